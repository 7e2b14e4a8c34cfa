// Live updates: the caller's domain events over Server-Sent Events
// (GET /api/v1/events, with the session cookie). EventSource reconnects by
// itself and sends Last-Event-ID, so no event is missed across a drop.
const types = [
  "round.created", "round.opened", "round.phase_changed", "round.updated",
  "version.created", "version.frozen", "allocation.saved",
  "counterproposal.submitted", "counterproposal.decided", "counterproposal.withdrawn",
  "approval.acted", "approval.rejected", "actuals.imported",
  "deadline.approaching", "deadline.passed",
];

let source: EventSource | null = null;
let timer: number | undefined;

// startLive calls onChange (at most every half second) after events arrive.
export function startLive(onChange: () => void): void {
  if (source || typeof EventSource === "undefined") return;
  source = new EventSource("/api/v1/events");
  const changed = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(onChange, 500);
  };
  for (const type of types) source.addEventListener(type, changed);
}

// stopLive closes the stream (on signing out).
export function stopLive(): void {
  source?.close();
  source = null;
}
