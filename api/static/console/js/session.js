// The signed-in key lives in this tab's sessionStorage only: never in a URL, a cookie or
// localStorage, and gone when the tab closes.

const KEY = "tessera.console.key";
const ROLE = "tessera.console.role";

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function storedRole() {
  return sessionStorage.getItem(ROLE) ?? "client";
}

export function remember(key, role) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, role);
}

export function forget() {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
}
