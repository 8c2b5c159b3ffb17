/**
 * Conditions on a recorder's state, re-checked on every `notify()` (the
 * recorder calls it on each change): `waitFor(ready, timeoutMs)` resolves true
 * once `ready()` holds, or false if it still does not after `timeoutMs`.
 */
export function changes(): { notify(): void; waitFor(ready: () => boolean, timeoutMs: number): Promise<boolean> } {
  const listeners = new Set<() => void>();
  return {
    notify: () => {
      for (const l of listeners) l();
    },
    waitFor: (ready, timeoutMs) =>
      new Promise<boolean>((resolve) => {
        if (ready()) return resolve(true);
        const check = () => {
          if (!ready()) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(true);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          resolve(ready());
        }, timeoutMs);
        listeners.add(check);
      }),
  };
}

/**
 * What a test double received, in order of arrival (`items`): `add` records one,
 * `take(match, timeoutMs)` resolves the first that `match` accepts and no earlier
 * `take` took (waiting for it), or undefined if none came within `timeoutMs`.
 */
export function inbox<T>(): {
  items: T[];
  add(item: T): void;
  take(match: (item: T) => boolean, timeoutMs: number): Promise<T | undefined>;
} {
  const items: T[] = [];
  const taken = new Set<T>();
  const { notify, waitFor } = changes();
  return {
    items,
    add: (item) => {
      items.push(item);
      notify();
    },
    take: async (match, timeoutMs) => {
      let found: T | undefined;
      // taken as soon as seen: concurrent takes get different items
      const ready = () => {
        found = items.find((item) => !taken.has(item) && match(item));
        if (found !== undefined) taken.add(found);
        return found !== undefined;
      };
      return (await waitFor(ready, timeoutMs)) ? found : undefined;
    },
  };
}
