// Live updates: the caller's domain events over Server-Sent Events
// (GET /api/v1/events, with the session cookie). One stream per tab,
// shared by every screen: a screen follows the events that concern it and
// refreshes itself (debounced, since events come in bursts) without a
// reload. EventSource reconnects by itself and sends Last-Event-ID; when
// the browser gives up on the stream (it answered an error), it is opened
// again after the last event seen, so no event is missed across a drop.
import { h, clear } from "./dom";
import { t } from "./i18n";

const types = [
  "round.created", "round.opened", "round.phase_changed", "round.updated",
  "version.created", "version.frozen", "allocation.saved", "targets.edited",
  "counterproposal.submitted", "counterproposal.decided", "counterproposal.withdrawn", "counterproposal.commented",
  "approval.acted", "approval.rejected", "actuals.imported",
  "deadline.approaching", "deadline.passed",
];

// LiveEvent is an event of the stream, as the API sends it.
export interface LiveEvent {
  id: number;
  type: string;
  timestamp: string;
  data: { entity: string; entity_id: number; round_id?: number | null; version_id?: number | null; actor_id?: number | null; details?: Record<string, unknown> };
}

interface Follower {
  el: HTMLElement;
  match: (e: LiveEvent) => boolean;
  refresh: () => Promise<void> | void;
  timer?: number;
  running?: boolean;
  again?: boolean;
}

const DEBOUNCE_MS = 400;
let source: EventSource | null = null;
let lastID = 0;
let retry: number | undefined;
let followers: Follower[] = [];

function open(): void {
  source = new EventSource("/api/v1/events" + (lastID ? "?after=" + lastID : ""));
  const s = source;
  for (const type of types) s.addEventListener(type, (m) => receive(m as MessageEvent));
  s.addEventListener("error", () => {
    // CLOSED: the browser will not retry by itself (the server answered
    // an error); try again, resuming after the last event seen.
    if (s.readyState !== EventSource.CLOSED || source !== s) return;
    window.clearTimeout(retry);
    retry = window.setTimeout(() => { if (source === s) open(); }, 3000);
  });
}

function receive(m: MessageEvent): void {
  let ev: LiveEvent;
  try {
    ev = JSON.parse(m.data) as LiveEvent;
  } catch {
    return;
  }
  const id = Number(m.lastEventId || ev.id);
  if (id > lastID) lastID = id;
  followers = followers.filter((f) => f.el.isConnected);
  for (const f of followers) {
    if (!f.match(ev)) continue;
    window.clearTimeout(f.timer);
    f.timer = window.setTimeout(() => void run(f), DEBOUNCE_MS);
  }
}

async function run(f: Follower): Promise<void> {
  if (!f.el.isConnected) return;
  if (f.running) { f.again = true; return; }
  f.running = true;
  try {
    await f.refresh();
  } catch {
    // the next event tries again; the screen keeps what it showed
  } finally {
    f.running = false;
  }
  if (f.again) {
    f.again = false;
    void run(f);
  }
}

// startLive opens the tab's stream once (after signing in).
export function startLive(): void {
  if (source || typeof EventSource === "undefined") return;
  open();
}

// stopLive closes the stream (on signing out).
export function stopLive(): void {
  window.clearTimeout(retry);
  source?.close();
  source = null;
  lastID = 0;
  followers = [];
}

// follow refreshes a screen while el is on the page: refresh runs after
// the events match picks, once per burst, never two at a time.
export function follow(el: HTMLElement, match: (e: LiveEvent) => boolean, refresh: () => Promise<void> | void): void {
  followers.push({ el, match, refresh });
}

type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

function controls(el: HTMLElement): Control[] {
  return [...el.querySelectorAll<Control>("input, textarea, select")];
}

function valueOf(c: Control): string {
  return c instanceof HTMLInputElement && (c.type === "checkbox" || c.type === "radio") ? String(c.checked) : c.value;
}

// followScreen follows with a whole-screen refresh: build makes the
// screen anew, which replaces the old one in place (the window keeps its
// scroll position). When the reader has typed or chosen something on the
// screen, nothing is overwritten: a notice offers the refresh instead.
export function followScreen(el: HTMLElement, match: (e: LiveEvent) => boolean, build: () => Promise<HTMLElement>): void {
  const initial = new Map(controls(el).map((c) => [c, valueOf(c)]));
  const dirty = () => controls(el).some((c) => initial.get(c) !== valueOf(c) && !(initial.get(c) === undefined && valueOf(c) === ""));
  const replace = async (checked: boolean) => {
    const next = await build();
    if (!el.isConnected) return;
    // The reader may have started typing while the screen was read.
    if (checked && dirty()) {
      changedElsewhere(() => void replace(false));
      return;
    }
    const y = window.scrollY;
    el.replaceWith(next);
    window.scrollTo(0, y);
    updated();
  };
  follow(el, match, async () => {
    if (dirty()) {
      changedElsewhere(() => void replace(false));
      return;
    }
    await replace(true);
  });
}

// indicator is the header's small "updated" note, or null before sign-in.
function indicator(): HTMLElement | null {
  return document.getElementById("live-note");
}

let fade: number | undefined;

// updated says, unobtrusively, that the screen just took in a change.
export function updated(): void {
  const note = indicator();
  if (!note) return;
  clear(note);
  note.className = "live-note fresh";
  note.append("● " + t("liveUpdated", { time: new Date().toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) }));
  window.clearTimeout(fade);
  fade = window.setTimeout(() => note.classList.remove("fresh"), 4000);
}

// changedElsewhere says the data changed while the reader has unsaved
// input, with a button to take the change (losing that input).
export function changedElsewhere(apply: () => void): void {
  const note = indicator();
  if (!note) return;
  clear(note);
  note.className = "live-note stale";
  note.append(t("liveChanged") + " ", h("button", { type: "button", class: "link", onclick: () => { clear(note); apply(); } }, t("liveRefresh")));
}
