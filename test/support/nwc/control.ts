/** One call to the wallet lab's control API (test/support/nwc/lab.ts), from any test runtime. */
export async function labControl<T = Record<string, unknown>>(
  labUrl: string,
  op: string,
  args: Record<string, unknown> = {},
): Promise<T> {
  const res = await fetch(`${labUrl}/control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op, ...args }),
  });
  if (!res.ok) throw new Error(`lab ${op}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
