/**
 * Protecting a whole RPC group at once: every procedure declares a policy or
 * `Public` in one typed, exhaustive map, and Warden's four middlewares are
 * attached to every procedure that is not `Public`.
 *
 * ```ts
 * const Api = Protected.group(Inventory, {
 *   Reserve: Policy.scope("orders.write"),
 *   Health: Protected.Public
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import type { AuditLog } from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import type * as Matrix from "@warden/core/Matrix"
import type * as Policy from "@warden/core/Policy"
import type { CurrentUser } from "@warden/core/Principal"
import type { CurrentScopes } from "@warden/core/Scopes"
import type { CurrentTenant } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import type { Scope } from "effect/Scope"
import * as Authentication from "./Authentication.js"
import * as Authorization from "./Authorization.js"
import * as Guarded from "./internal/guarded.js"
import * as ScopeContext from "./ScopeContext.js"
import * as TenantContext from "./TenantContext.js"

/** Marks a procedure as needing no credentials. Its handler cannot use Warden's services. */
export const Public: unique symbol = Symbol.for("@warden/rpc/Public")

/** @since 0.1.0 */
export type Public = typeof Public

/** What each procedure of a group requires: a policy, or `Public`. Every procedure must appear. */
export type Policies<R extends Rpc.Any> = {
  readonly [K in R["_tag"]]: Policy.Policy<Policy.PolicyContext> | Public
}

/** The middlewares `group` attaches to a protected procedure. */
export type Middlewares =
  | typeof Authentication.Authentication
  | typeof TenantContext.TenantContext
  | typeof ScopeContext.ScopeContext
  | typeof Authorization.Authorization

/** The procedures of a group after `group`: the non-public ones carry Warden's middlewares. */
export type Protect<R extends Rpc.Any, P> = R extends Rpc.Any ?
  P[R["_tag"] & keyof P] extends Public ? R : Rpc.AddMiddleware<R, Middlewares>
  : never

/**
 * Protects a group: every procedure whose entry is a policy carries
 * `Authentication`, `TenantContext`, `ScopeContext` and `Authorization` (in
 * its type: what its handlers may use, what its clients and server need) and
 * is annotated with that policy. Leaving a procedure out of `policies` is a
 * compile error.
 *
 * At run time the four are one middleware that plays every role, so the RPC
 * server wraps a protected call once.
 */
export const group = <R extends Rpc.Any, const P extends Policies<R>>(
  group: RpcGroup.RpcGroup<R>,
  policies: P & { readonly [K in Exclude<keyof P, R["_tag"]>]: never }
): RpcGroup.RpcGroup<Protect<R, P>> => {
  const rpcs = [...group.requests.values()].map((rpc) => {
    const entry = (policies as Record<string, Policy.Policy<Policy.PolicyContext> | Public | undefined>)[rpc._tag]
    if (entry === undefined) {
      throw new globalThis.Error(`Protected.group: procedure "${rpc._tag}" declares neither a policy nor Public`)
    }
    if (entry === Public) return rpc
    return (rpc as unknown as Rpc.Rpc<string, Rpc.AnySchema, Schema.Schema.Any, Schema.Schema.All>)
      .annotate(Authorization.RequiredPolicy, entry)
      .middleware(Guarded.Guarded)
  })
  return RpcGroup.make(...rpcs).annotateContext(group.annotations) as unknown as RpcGroup.RpcGroup<Protect<R, P>>
}

/**
 * The implementations of all four middlewares, sharing one per-request
 * authentication. Needs an `Authenticator` and an `AuditLog`.
 */
export const layer: Layer.Layer<
  | Authentication.Authentication
  | TenantContext.TenantContext
  | ScopeContext.ScopeContext
  | Authorization.Authorization,
  never,
  Authenticator | AuditLog
> = Layer.mergeAll(Authentication.layer, TenantContext.layer, ScopeContext.layer, Authorization.layer)

/** Warden's request services. */
export type WardenService = CurrentUser | CurrentTenant | CurrentScopes

type ServiceName<S> = S extends CurrentUser ? "CurrentUser (provided by Authentication)" :
  S extends CurrentTenant ? "CurrentTenant (provided by TenantContext)" :
  S extends CurrentScopes ? "CurrentScopes (provided by ScopeContext)" :
  never

/** The message naming a procedure that uses a Warden service its procedure does not provide. */
export type MissingMiddleware<Tag extends string, S> = `Warden: procedure "${Tag}" uses ${ServiceName<
  S
>} but is not protected by that middleware`

type Unprovided<R extends Rpc.Any, K extends string, H> = K extends R["_tag"] ?
  Extract<RpcGroup.HandlerContext<R, K, H>, WardenService> :
  never

/** The messages for every handler that uses a Warden service its procedure does not provide. */
export type Problems<R extends Rpc.Any, H> = {
  readonly [K in keyof H]: K extends string ?
    [Unprovided<R, K, H[K]>] extends [never] ? never : MissingMiddleware<K, Unprovided<R, K, H[K]>>
    : never
}[keyof H]

/**
 * What `toLayer` returns in place of a layer when a handler uses a Warden
 * service its procedure does not provide. It is not a layer, so composing the
 * server fails to compile, and the compiler's message quotes `problems`.
 */
export interface MissingMiddlewareError<P extends string> {
  readonly "Warden: a handler uses a service its procedure does not provide": P
}

/** A layer, or the error naming each procedure and the Warden service it lacks. */
export type CheckedLayer<R extends Rpc.Any, H, L> = [Problems<R, H>] extends [never] ? L :
  MissingMiddlewareError<Problems<R, H>>

/**
 * `group.toLayer(build)`, checked: if a handler uses `CurrentUser`,
 * `CurrentTenant` or `CurrentScopes` in a procedure that does not carry the
 * providing middleware, the result is a `MissingMiddlewareError` naming the
 * procedure and the missing service instead of a layer, and the server does
 * not compile.
 */
export const toLayer = <R extends Rpc.Any, H extends RpcGroup.HandlersFrom<R>, EX = never, RX = never>(
  group: RpcGroup.RpcGroup<R>,
  build: H | Effect.Effect<H, EX, RX>
): CheckedLayer<
  R,
  H,
  Layer.Layer<Rpc.ToHandler<R>, EX, Exclude<RX, Scope> | RpcGroup.HandlersContext<R, H>>
> =>
  group.toLayer(build) as CheckedLayer<
    R,
    H,
    Layer.Layer<Rpc.ToHandler<R>, EX, Exclude<RX, Scope> | RpcGroup.HandlersContext<R, H>>
  >

/**
 * Every procedure of a group with the policy it requires (or `"public"`),
 * for `Matrix.make`.
 *
 * @since 0.3.0
 * @category accessors
 */
export const procedures = <R extends Rpc.Any>(group: RpcGroup.RpcGroup<R>): ReadonlyArray<Matrix.Procedure> =>
  [...group.requests.values()].map((rpc) => {
    // `Rpc.Any` hides the annotations every rpc carries.
    const policy = Context.getOption((rpc as unknown as Rpc.AnyWithProps).annotations, Authorization.RequiredPolicy)
    return { name: rpc._tag, policy: policy._tag === "Some" ? policy.value : "public" }
  })
