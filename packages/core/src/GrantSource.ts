/**
 * Where the grants of a request come from: what a principal may do in the
 * tenant the request acts for. By default the token's own claims (its scopes,
 * its `permissions` and `deny` claims), the same in every tenant the token
 * signs; a role store per (principal, tenant) is another source.
 *
 * Grants from claims depend only on the token, so they are compiled once per
 * distinct claims and shared by every principal with them, not once per
 * request.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Unauthenticated } from "./AuthError.js"
import * as Permission from "./Permission.js"
import type { Principal } from "./Principal.js"
import type * as Scopes from "./Scopes.js"
import type { Grants } from "./Scopes.js"
import type { TenantId } from "./Tenant.js"

/** Loads grants. A source that cannot answer fails with `Unauthenticated` (`unavailable`): it never allows. */
export interface Service {
  readonly grants: (principal: Principal, tenant: TenantId) => Effect.Effect<Grants, Unauthenticated>
  /** Optional: the same answer without an Effect when it needs no I/O; `undefined` when `grants` must run. */
  readonly grantsNow?: (principal: Principal, tenant: TenantId) => Grants | undefined
}

/** Compiled sets by grant lists (`Claims.toPrincipal` hands out one lists object per distinct lists). */
const compiledByGrants = new WeakMap<Permission.Grants, Permission.PermissionSet>()
/** The same by content, for lists objects made elsewhere (`Principal.make`). */
const compiledByText = new Map<string, Permission.PermissionSet>()
const maxShared = 4096
/** Grants by (scopes, grant lists): principals with the same claims share one. */
const grantsByParts = new WeakMap<Scopes.Scopes, WeakMap<Permission.Grants, Grants>>()

const compiledSet = (lists: Permission.Grants): Permission.PermissionSet => {
  if (lists.allow.length === 0 && lists.deny.length === 0) return Permission.emptySet
  const known = compiledByGrants.get(lists)
  if (known !== undefined) return known
  const text = JSON.stringify([lists.allow, lists.deny])
  let set = compiledByText.get(text)
  if (set === undefined) {
    set = Permission.compile(lists)
    if (compiledByText.size >= maxShared) compiledByText.delete(compiledByText.keys().next().value!)
    compiledByText.set(text, set)
  }
  compiledByGrants.set(lists, set)
  return set
}

/**
 * The grants a principal's own claims give it, compiled once per distinct
 * claims: principals with the same scopes and grant lists (the same objects,
 * as verified principals share them) get the same `Grants`.
 */
export const fromClaims = (principal: Principal): Grants => {
  const { permissions, scopes } = principal
  let byLists = grantsByParts.get(scopes)
  if (byLists === undefined) grantsByParts.set(scopes, byLists = new WeakMap())
  const known = byLists.get(permissions)
  if (known !== undefined) return known
  const grants: Grants = { scopes, permissions: compiledSet(permissions) }
  byLists.set(permissions, grants)
  return grants
}

/** The default source: the token's own claims. */
export const claims: Service = {
  grants: (principal) => Effect.succeed(fromClaims(principal)),
  grantsNow: fromClaims
}

/** The request pipeline's source of grants; the token's claims unless a layer says otherwise. */
export class GrantSource extends Context.Reference<GrantSource>()("@warden/core/GrantSource", {
  defaultValue: (): Service => claims
}) {}

/** Uses `source` for every request. */
export const layer = (source: Service): Layer.Layer<GrantSource> => Layer.succeed(GrantSource, source)
