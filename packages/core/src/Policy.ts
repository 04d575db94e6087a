/**
 * Per-procedure policies: an Effect that succeeds with `Allowed` (naming the
 * grant that matched) or fails with `Forbidden` (naming the requirement that
 * was missing), over the request's `CurrentUser`, `CurrentTenant` and
 * `CurrentScopes`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { Forbidden } from "./AuthError.js"
import type { ForbiddenReason } from "./AuthError.js"
import type { Catalogue } from "./Permission.js"
import { CurrentUser } from "./Principal.js"
import type { ClientId } from "./Principal.js"
import * as Scopes from "./Scopes.js"
import * as Tenant from "./Tenant.js"
import { CurrentTenant } from "./Tenant.js"

/** A policy allowed the request; `grant` says which grant matched. */
export class Allowed extends Data.TaggedClass("Allowed")<{ readonly grant: string }> {}

/** Everything a policy may read. */
export type PolicyContext = CurrentUser | CurrentTenant | Scopes.CurrentScopes

/** A policy: allowed with the matching grant, or `Forbidden` with the missing requirement. */
export type Policy<R = PolicyContext> = Effect.Effect<Allowed, Forbidden, R>

/** A decision as data, for spans and audit logs. */
export type Decision =
  | { readonly _tag: "Allowed"; readonly grant: string }
  | {
    readonly _tag: "Denied"
    readonly reason: ForbiddenReason
    readonly requirement: string
    readonly error: Forbidden
  }

/** Runs a policy and returns its decision as data. */
export const decide = <R>(policy: Policy<R>): Effect.Effect<Decision, never, R> =>
  Effect.match(policy, {
    onSuccess: (allowed): Decision => ({ _tag: "Allowed", grant: allowed.grant }),
    onFailure: (error): Decision => ({
      _tag: "Denied",
      reason: error.reason,
      requirement: error.requirement,
      error
    })
  })

/** Allows every authenticated request. */
export const authenticated: Policy<never> = Effect.succeed(new Allowed({ grant: "authenticated" }))

/**
 * Requires a scope (exact match, RFC 6749 §3.3). A literal that is not a
 * scope-token does not compile; any other string that is not one throws here,
 * at the call, naming what is wrong.
 *
 * @example
 * ```ts
 * Policy.scope("orders.write")
 * // Policy.scope("orders write") does not compile: a scope-token has no space
 * ```
 */
export const scope = <const S extends string>(required: Scopes.CheckToken<S>): Policy<Scopes.CurrentScopes> => {
  const checked = Scopes.fromTokens([required])
  if (Either.isLeft(checked)) throw new globalThis.Error(`Policy.scope: ${checked.left.message}`)
  const granted = Effect.succeed(new Allowed({ grant: `scope ${required}` }))
  const denied = Effect.fail(
    Forbidden.of("missing_scope", `scope ${required}`, `the token lacks the scope '${required}'`, required)
  )
  return Effect.flatMap(Scopes.CurrentScopes, (current) => current.scopes.has(required) ? granted : denied)
}

/**
 * Requires a permission from a catalogue; a permission outside the catalogue
 * is a compile error. A deny that covers it wins over every grant.
 */
export const permission = <P extends string>(
  _catalogue: Catalogue<P>,
  required: NoInfer<P>
): Policy<Scopes.CurrentScopes> => {
  // Decisions are made per request and cost what building their values costs: build each value once.
  const requirement = `permission ${required}`
  const missing = Effect.fail(
    Forbidden.of("missing_permission", requirement, `the permission '${required}' is not granted`)
  )
  const granted = new Map<string, Effect.Effect<Allowed>>()
  const denied = new Map<string, Effect.Effect<never, Forbidden>>()
  const once = <A>(map: Map<string, A>, key: string, make: () => A): A => {
    const known = map.get(key)
    if (known !== undefined) return known
    const made = make()
    if (map.size < 64) map.set(key, made)
    return made
  }
  return Effect.flatMap(Scopes.CurrentScopes, (current): Policy<never> => {
    const check = current.permissions.check(required)
    switch (check._tag) {
      case "Allowed":
        return once(granted, check.grant, () => Effect.succeed(new Allowed({ grant: `permission ${check.grant}` })))
      case "Denied":
        return once(denied, check.rule, () =>
          Effect.fail(
            Forbidden.of(
              "denied_permission",
              requirement,
              `the permission '${required}' is denied by '${check.rule}'`
            )
          ))
      case "NotGranted":
        return missing
    }
  })
}

/**
 * Requires the request's tenant to be `tenant`. A literal that is not a tenant
 * id does not compile; any other string that is not one throws here.
 */
export const tenant = <const S extends string>(required: Tenant.Check<S>): Policy<CurrentTenant> => {
  const wanted: string = required
  const issue = Tenant.problem(wanted)
  if (issue !== undefined) throw new globalThis.Error(`Policy.tenant: the tenant id ${issue}`)
  return Effect.flatMap(CurrentTenant, (current) =>
    current === wanted ?
      Effect.succeed(new Allowed({ grant: `tenant ${required}` })) :
      Effect.fail(Forbidden.of("tenant_mismatch", `tenant ${required}`, "the request is for another tenant")))
}

/**
 * Requires a service principal; with `clientIds`, one of those clients
 * (the `client_id` claim).
 */
export const service = (...clientIds: ReadonlyArray<string>): Policy<CurrentUser> =>
  Effect.flatMap(CurrentUser, (principal) => {
    const requirement = clientIds.length === 0 ? "a service" : `service ${clientIds.join(" | ")}`
    if (principal.kind !== "service") {
      return Effect.fail(Forbidden.of("not_a_service", requirement, "the caller is not a service"))
    }
    if (clientIds.length > 0 && (principal.clientId === null || !clientIds.includes(principal.clientId))) {
      return Effect.fail(Forbidden.of("wrong_service", requirement, "the calling service is not allowed here"))
    }
    return Effect.succeed(new Allowed({ grant: `service ${principal.clientId ?? principal.subject}` }))
  })

/** Requires a user principal (not a service acting for itself). */
export const user: Policy<CurrentUser> = Effect.flatMap(CurrentUser, (principal) =>
  principal.kind === "user" ?
    Effect.succeed(new Allowed({ grant: "user" })) :
    Effect.fail(Forbidden.of("not_a_user", "a user", "the caller is a service, not a user")))

/** Any policy, whatever it reads. */
export type AnyPolicy = Policy<unknown>

type ContextOf<Ps extends ReadonlyArray<AnyPolicy>> = Effect.Effect.Context<Ps[number]>

/** Allows when every policy allows; fails with the first refusal. */
export const all = <const Ps extends readonly [AnyPolicy, ...Array<AnyPolicy>]>(
  ...policies: Ps
): Policy<ContextOf<Ps>> =>
  Effect.map(
    Effect.forEach(policies, (policy) => policy as Policy<ContextOf<Ps>>),
    (allowed) => new Allowed({ grant: allowed.map((a) => a.grant).join(" and ") })
  )

/** Allows when one policy allows (tried in order); otherwise `no_alternative`. */
export const any = <const Ps extends readonly [AnyPolicy, ...Array<AnyPolicy>]>(
  ...policies: Ps
): Policy<ContextOf<Ps>> =>
  Effect.suspend(() => {
    const refusals: Array<Forbidden> = []
    const loop = (i: number): Policy<ContextOf<Ps>> =>
      i >= policies.length ?
        Effect.fail(
          Forbidden.of(
            "no_alternative",
            `any of (${refusals.map((f) => f.requirement).join(" | ")})`,
            `none of the alternatives allowed: ${refusals.map((f) => f.description).join("; ")}`,
            refusals.find((f) => f.scope !== null)?.scope ?? null
          )
        ) :
        Effect.catchTag(policies[i] as Policy<ContextOf<Ps>>, "Forbidden", (refusal) => {
          refusals.push(refusal)
          return loop(i + 1)
        })
    return loop(0)
  })

/** Allows exactly when `policy` refuses. */
export const not = <R>(policy: Policy<R>): Policy<R> =>
  Effect.matchEffect(policy, {
    onFailure: (refusal) => Effect.succeed(new Allowed({ grant: `not (${refusal.requirement})` })),
    onSuccess: (allowed) =>
      Effect.fail(Forbidden.of("negated", `not (${allowed.grant})`, `the request matches an excluded grant`))
  })

/** A client id, for `service`. */
export type { ClientId }
