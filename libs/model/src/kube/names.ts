/** Kubernetes name rules (apimachinery validation), the ones the objects Netledger reads must obey. */

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** DNS-1123 label: namespaces, endpoint port names. */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && dns1123Label.test(value);
}

/** DNS-1035 label: Service names. */
export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && dns1035Label.test(value);
}

/** DNS-1123 subdomain: Node and EndpointSlice names. */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && value.split('.').every((part) => dns1123Label.test(part));
}
