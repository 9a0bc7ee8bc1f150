/**
 * A backend spec safe to show: the password of a URL (`redis://:pw@h`, `postgres://u:pw@h/db`)
 * and `password=` query values become `***`.
 *
 * @example
 * ```ts
 * redactSpec('postgres://app:s3cret@db:5432/shop'); // 'postgres://app:***@db:5432/shop'
 * ```
 */
export function redactSpec(spec: string): string {
  return spec
    .replace(
      /^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i,
      (_m, scheme: string, user: string) => `${scheme}${user}:***@`,
    )
    .replace(/([?&]password=)[^&]*/gi, '$1***');
}
