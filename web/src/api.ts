// The console's only way to the server: the public API under /api/v1, with
// the session cookie (which scripts never see) and the CSRF token, kept in
// memory only, on every write.
import type { Problem } from "./api.gen";

let csrf = "";

export function setCSRF(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(public status: number, public problem: Problem | null) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
  }
}

export interface Answer<T> {
  data: T;
  etag: string | null;
  status: number;
  // date is the server's Date header: the server's clock, for "since".
  date: string | null;
}

let onUnauthorized: () => void = () => {};

export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) h["X-CSRF-Token"] = csrf;
  const res = await fetch("/api/v1" + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== "/sessions") onUnauthorized();
    throw new ApiError(res.status, data as Problem | null);
  }
  return { data: data as T, etag: res.headers.get("ETag"), status: res.status, date: res.headers.get("Date") };
}

export async function get<T>(path: string): Promise<T> {
  return (await call<T>("GET", path)).data;
}

// all follows next_cursor until the list ends.
export async function all<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor = "";
  const sep = path.includes("?") ? "&" : "?";
  for (;;) {
    const page = await get<{ items: T[]; next_cursor?: string }>(path + sep + "limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    out.push(...page.items);
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}
