/** Talking to a test server on 127.0.0.1: JSON requests, and the samples of a Prometheus text. */

export interface JsonReply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** POSTs `body` as JSON (a string is sent as is) and parses the answer as JSON. */
export async function postJson<T = unknown>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** GETs `url` and parses the answer as JSON. */
export async function getJson<T = unknown>(url: string, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** The value of one sample (`name{labels}`) of a Prometheus text exposition, 0 when absent. */
export function metricValue(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}
