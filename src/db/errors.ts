/**
 * True when `e` is Prisma's unique-constraint violation (P2002), optionally on a
 * constraint whose fields include `field`.
 */
export function isUniqueViolation(e: unknown, field?: string): boolean {
  if (typeof e !== "object" || e === null || (e as { code?: unknown }).code !== "P2002") return false;
  return field === undefined || JSON.stringify((e as { meta?: unknown }).meta ?? {}).includes(field);
}
