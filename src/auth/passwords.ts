import argon2 from "argon2";

/**
 * argon2id parameters: memoryCost 65,536 KiB (64 MiB), timeCost 3 passes,
 * parallelism 4 lanes (the argon2 package's defaults, spelled out so an upgrade
 * cannot lower them). Above the OWASP Password Storage Cheat Sheet's minimum for
 * argon2id (m = 19 MiB, t = 2, p = 1) and equal to RFC 9106 §4's second
 * recommended option (64 MiB, t = 3, p = 4).
 */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 64 * 1024, timeCost: 3, parallelism: 4 } as const;

/** Hashes with {@link ARGON2_PARAMS}; returns the PHC string (`$argon2id$v=19$m=65536,p=4,t=3$<salt>$<hash>`), which carries its own salt and parameters. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_PARAMS);
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
