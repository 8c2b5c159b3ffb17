import argon2 from "argon2";

/**
 * argon2id with the library's defaults (m = 64 MiB, t = 3, p = 4), above the
 * OWASP Password Storage Cheat Sheet minimum (m = 19 MiB, t = 2, p = 1).
 * Returns the PHC string, which carries its own salt and parameters.
 */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id });
}

/** True when `password` matches the PHC `hash`; false (never throws) on a malformed hash. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/**
 * A fixed hash to verify against when the user does not exist, so a login for an
 * unknown user costs the same time as one with a wrong password.
 */
export const dummyHash = hashPassword("not-a-real-password");
