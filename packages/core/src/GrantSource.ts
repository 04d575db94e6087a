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
import { Unauthenticated } from "./AuthError.js"
import * as GrantsCache from "./GrantsCache.js"
import * as Permission from "./Permission.js"
import type { Principal } from "./Principal.js"
import type * as Roles from "./Roles.js"
import * as RoleStore from "./RoleStore.js"
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

/**
 * How `fromRoles` reads grants.
 *
 * @since 0.3.0
 * @category models
 */
export interface RolesOptions {
  /** Adds the token's own `permissions` and `deny` claims to the roles' grants. Default `false`. */
  readonly withClaims?: boolean
  /**
   * The subject a role store knows the principal by. Default `principal.subject`; when several issuers are
   * trusted and their subjects may collide, name them apart (`${principal.issuer} ${principal.subject}`).
   */
  readonly subjectOf?: (principal: Principal) => string
}

const storeDown = Unauthenticated.of("unavailable", "the role store or its cache cannot answer; try again later")

/**
 * Grants from roles per (subject, tenant): scopes from the token, permissions
 * from the roles the `RoleStore` assigns the subject in the request's tenant
 * (and the token's own when `withClaims`). Roles are cached in the
 * `GrantsCache`; a store or cache that cannot answer refuses the request as
 * `unavailable`, never allows.
 *
 * @example
 * ```ts
 * const Grants = GrantSource.layerRoles(roles).pipe(
 *   Layer.provide(RoleStore.layerMemory()),
 *   Layer.provide(GrantsCache.layerMemory({ ttl: "30 seconds" }))
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const fromRoles = <R extends string>(
  roles: Roles.Roles<R>,
  options: RolesOptions = {}
): Effect.Effect<Service, never, RoleStore.RoleStore | GrantsCache.GrantsCache> =>
  Effect.gen(function*() {
    const store = yield* RoleStore.RoleStore
    const cache = yield* GrantsCache.GrantsCache
    const subjectOf = options.subjectOf ?? ((principal: Principal) => principal.subject)
    const withClaims = options.withClaims === true
    // Grants by owner and role names (the names' array comes from the cache and is reused while cached). The owner
    // is the principal when its own grants join in (it is cached with its token), else its scopes alone.
    const grantsBy = new WeakMap<object, WeakMap<ReadonlyArray<string>, Grants>>()
    const compile = (principal: Principal, held: ReadonlyArray<string>): Permission.PermissionSet => {
      if (!withClaims) return roles.compiled(held)
      const fromRoles = roles.grantsOf(held)
      return compiledSet({
        allow: [...fromRoles.allow, ...principal.permissions.allow],
        deny: [...fromRoles.deny, ...principal.permissions.deny]
      })
    }
    const toGrants = (principal: Principal, held: ReadonlyArray<string>): Grants => {
      const owner = withClaims ? principal : principal.scopes
      let byRoles = grantsBy.get(owner)
      if (byRoles === undefined) grantsBy.set(owner, byRoles = new WeakMap())
      let grants = byRoles.get(held)
      if (grants === undefined) {
        grants = { scopes: principal.scopes, permissions: compile(principal, held) }
        byRoles.set(held, grants)
      }
      return grants
    }
    const grantsNow = cache.getNow === undefined ? undefined : (principal: Principal, tenant: TenantId) => {
      const held = cache.getNow!(subjectOf(principal), tenant)
      return held === undefined ? undefined : toGrants(principal, held)
    }
    const service: Service = {
      grants: (principal, tenant) => {
        const subject = subjectOf(principal)
        return cache.get(subject, tenant).pipe(
          Effect.flatMap((lookup) =>
            lookup._tag === "Hit" ?
              Effect.succeed(lookup.roles) :
              Effect.tap(store.rolesOf(subject, tenant), (held) => cache.set(subject, tenant, held, lookup.stamp))
          ),
          Effect.map((held) => toGrants(principal, held)),
          Effect.catchAll(() => Effect.fail(storeDown))
        )
      },
      ...(grantsNow === undefined ? {} : { grantsNow })
    }
    return service
  })

/**
 * Reads grants from roles (see `fromRoles`) for every request.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerRoles = <R extends string>(
  roles: Roles.Roles<R>,
  options?: RolesOptions
): Layer.Layer<GrantSource, never, RoleStore.RoleStore | GrantsCache.GrantsCache> =>
  Layer.effect(GrantSource, fromRoles(roles, options))

/**
 * Replaces the roles `subject` holds in `tenant` and drops what every cache
 * holds of them, so the change takes effect within the cache's invalidation
 * delay rather than its time to live.
 *
 * @since 0.3.0
 * @category constructors
 */
export const assign = (
  subject: string,
  tenant: string,
  roles: ReadonlyArray<string>
): Effect.Effect<
  void,
  RoleStore.RoleStoreUnavailable | GrantsCache.GrantsCacheUnavailable,
  RoleStore.RoleStore | GrantsCache.GrantsCache
> =>
  Effect.gen(function*() {
    yield* Effect.flatMap(RoleStore.RoleStore, (store) => store.assign(subject, tenant, roles))
    yield* Effect.flatMap(GrantsCache.GrantsCache, (cache) => cache.invalidate(subject, tenant))
  })
