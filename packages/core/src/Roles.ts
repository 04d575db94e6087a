/**
 * Roles: named sets of catalogue permissions that an application declares
 * once and a role store assigns per (subject, tenant). An administrator is a
 * role granting `*`, under which denies still win; there is no bypass flag.
 *
 * @example
 * ```ts
 * const perms = Permission.catalogue("inventory:stock:read", "inventory:stock:adjust")
 * const roles = Roles.define(perms, {
 *   admin: { allow: ["*"] },
 *   clerk: { allow: ["inventory:stock:*"], deny: ["inventory:stock:adjust"] }
 * })
 * ```
 *
 * @since 0.3.0
 */
import * as Either from "effect/Either"
import * as Permission from "./Permission.js"

/**
 * One role's grants and denies.
 *
 * @since 0.3.0
 * @category models
 */
export interface Role {
  readonly allow: ReadonlyArray<string>
  readonly deny: ReadonlyArray<string>
}

/**
 * The roles an application declares, by name. `R` is the union of their names.
 *
 * @since 0.3.0
 * @category models
 */
export interface Roles<R extends string> {
  readonly names: ReadonlyArray<R>
  readonly role: (name: R) => Role
  /** Whether a string names a declared role. */
  readonly has: (name: string) => name is R
  /**
   * The grants of a subject holding `names`: the union of their grants and of
   * their denies (a deny of one role wins over a grant of another). A name not
   * declared here grants nothing: a store may outlive a role.
   */
  readonly grantsOf: (names: ReadonlyArray<string>) => Permission.Grants
  /** The same, compiled once per distinct set of names. */
  readonly compiled: (names: ReadonlyArray<string>) => Permission.PermissionSet
}

/**
 * The grants a role may list: the catalogue's permissions, wildcards over
 * them, and `*`.
 *
 * @since 0.3.0
 * @category models
 */
export interface RoleGrants<P extends string> {
  readonly allow?: ReadonlyArray<Permission.Grant<P>>
  readonly deny?: ReadonlyArray<Permission.Grant<P>>
}

const namePattern = /^[A-Za-z0-9_.-]{1,64}$/

/** A grant must name something in the catalogue: a typo in a wildcard would otherwise grant nothing, silently. */
const checkGrant = (
  catalogue: Pick<Permission.Catalogue<string>, "has" | "permissions">,
  role: string,
  grant: string
): void => {
  const valid = Permission.validateGrant(grant)
  if (Either.isLeft(valid)) throw new globalThis.Error(`Roles.define: role "${role}": ${valid.left.message}`)
  if (grant === "*" || catalogue.has(grant)) return
  const set = Permission.compile({ allow: [grant], deny: [] })
  if (!catalogue.permissions.some((p) => set.check(p)._tag === "Allowed")) {
    throw new globalThis.Error(`Roles.define: role "${role}": "${grant}" covers no permission of the catalogue`)
  }
}

const maxCompiled = 1024

/**
 * Declares an application's roles over its permission catalogue. A grant
 * outside the catalogue is a compile error for literals and throws here for
 * the rest, as does a wildcard that covers no declared permission or a role
 * name that is not 1 to 64 letters, digits, `_`, `.` or `-`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const define = <P extends string, const D extends Record<string, RoleGrants<P>>>(
  catalogue: Permission.Catalogue<P>,
  roles: D
): Roles<keyof D & string> => {
  type R = keyof D & string
  const table = new Map<string, Role>()
  for (const [name, grants] of Object.entries(roles)) {
    if (!namePattern.test(name)) {
      throw new globalThis.Error(
        `Roles.define: "${name}" is not a role name: use 1 to 64 letters, digits, '_', '.' or '-'`
      )
    }
    const role: Role = { allow: [...(grants.allow ?? [])], deny: [...(grants.deny ?? [])] }
    for (const grant of [...role.allow, ...role.deny]) checkGrant(catalogue, name, grant)
    table.set(name, role)
  }
  const names = [...table.keys()] as Array<R>
  const grantsOf = (held: ReadonlyArray<string>): Permission.Grants => {
    const allow: Array<string> = []
    const deny: Array<string> = []
    for (const name of held) {
      const role = table.get(name)
      if (role === undefined) continue
      allow.push(...role.allow)
      deny.push(...role.deny)
    }
    return { allow, deny }
  }
  const compiled = new Map<string, Permission.PermissionSet>()
  return {
    names,
    role: (name) => table.get(name)!,
    has: (name: string): name is R => table.has(name),
    grantsOf,
    compiled: (held) => {
      // Only declared names (which cannot hold a newline) make the key: a stored name cannot forge another set's.
      const known = held.filter((name) => table.has(name))
      const key = known.length === 1 ? known[0]! : [...new Set(known)].sort().join("\n")
      let set = compiled.get(key)
      if (set === undefined) {
        set = Permission.compile(grantsOf(known))
        if (compiled.size >= maxCompiled) compiled.delete(compiled.keys().next().value!)
        compiled.set(key, set)
      }
      return set
    }
  }
}
