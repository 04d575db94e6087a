/**
 * Where the grants of a request come from: what a principal may do in the
 * tenant the request acts for. By default the token's own claims (its scopes,
 * its `permissions` and `deny` claims), the same in every tenant the token
 * signs; a role store per (principal, tenant) is another source.
 *
 * Grants from claims depend only on the token, so they are compiled once per
 * verified principal (and shared between principals with the same claims),
 * not once per request.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Unauthenticated } from "./AuthError.js"
import * as Permission from "./Permission.js"
import type { Principal } from "./Principal.js"
import type { Grants } from "./Scopes.js"
import type { TenantId } from "./Tenant.js"

/** Loads grants. A source that cannot answer fails with `Unauthenticated` (`unavailable`): it never allows. */
export interface Service {
  readonly grants: (principal: Principal, tenant: TenantId) => Effect.Effect<Grants, Unauthenticated>
  /** Optional: the same answer without an Effect when it needs no I/O; `undefined` when `grants` must run. */
  readonly grantsNow?: (principal: Principal, tenant: TenantId) => Grants | undefined
}

const compiled = new WeakMap<Principal, Grants>()
const shared = new Map<string, Permission.PermissionSet>()
const maxShared = 4096

/**
 * The grants a principal's own claims give it, compiled once per principal
 * object (a verifier's cache hands out the same object for the same token),
 * and one compiled set for every principal with the same grants.
 */
export const fromClaims = (principal: Principal): Grants => {
  const known = compiled.get(principal)
  if (known !== undefined) return known
  const { allow, deny } = principal.permissions
  let permissions = Permission.emptySet
  if (allow.length > 0 || deny.length > 0) {
    const key = JSON.stringify([allow, deny])
    permissions = shared.get(key) ?? Permission.compile(principal.permissions)
    if (!shared.has(key)) {
      if (shared.size >= maxShared) shared.delete(shared.keys().next().value!)
      shared.set(key, permissions)
    }
  }
  const grants: Grants = { scopes: principal.scopes, permissions }
  compiled.set(principal, grants)
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
