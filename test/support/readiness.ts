/** Whether a Netledger process on this loopback port says it is ready; false while it does not answer. */
export function isReady(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
}
