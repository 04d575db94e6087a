/**
 * Per-procedure policies: allowed with the grant that matched, or `Forbidden`
 * with the requirement that was missing.
 *
 * The policies built here (`authenticated`, `scope`, `permission`, `tenant`,
 * `service`, `user`, and `all`, `any`, `not` over them) are data: the request
 * pipeline decides them with `evaluate`, a pure function over the request's
 * principal, tenant and grants, with no Effect per step. Each is also an
 * Effect over `CurrentUser`, `CurrentTenant` and `CurrentScopes`, so any
 * Effect that succeeds with `Allowed` or fails with `Forbidden` is a policy
 * too (a custom check), and combines with the others.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { Forbidden } from "./AuthError.js"
import type { ForbiddenReason } from "./AuthError.js"
import type * as Claims from "./Claims.js"
import type { Catalogue } from "./Permission.js"
import { CurrentUser } from "./Principal.js"
import type { ClientId, Principal } from "./Principal.js"
import * as Scopes from "./Scopes.js"
import * as Tenant from "./Tenant.js"
import { CurrentTenant } from "./Tenant.js"

/** A policy allowed the request; `grant` says which grant matched. */
export class Allowed extends Data.TaggedClass("Allowed")<{ readonly grant: string }> {}

/** Everything a policy may read. */
export type PolicyContext = CurrentUser | CurrentTenant | Scopes.CurrentScopes

/** A policy: allowed with the matching grant, or `Forbidden` with the missing requirement. */
export type Policy<R = PolicyContext> = Effect.Effect<Allowed, Forbidden, R>

/** A refusal as data. */
export interface Denied {
  readonly _tag: "Denied"
  readonly reason: ForbiddenReason
  readonly requirement: string
  readonly error: Forbidden
}

/** A decision as data, for spans and audit logs. */
export type Decision = Allowed | Denied

/**
 * What a policy is decided over: the request's principal, the tenant it acts
 * for and its grants.
 *
 * @since 0.2.0
 */
export interface Input {
  readonly principal: Principal
  readonly tenant: Tenant.TenantId
  readonly grants: Scopes.Grants
}

const deny = (error: Forbidden): Denied => ({
  _tag: "Denied",
  reason: error.reason,
  requirement: error.requirement,
  error
})

const DataTypeId: unique symbol = Symbol.for("@warden/core/Policy/Data")

/** Reads the request's services lazily: a policy reads only what its type says it needs. */
const inputOf = (context: Context.Context<never>): Input => ({
  get principal() {
    return Context.unsafeGet(context as Context.Context<CurrentUser>, CurrentUser)
  },
  get tenant() {
    return Context.unsafeGet(context as Context.Context<CurrentTenant>, CurrentTenant)
  },
  get grants() {
    return Context.unsafeGet(context as Context.Context<Scopes.CurrentScopes>, Scopes.CurrentScopes)
  }
})

/** A policy that is data: decided by a pure function, and an Effect over the request's services. */
abstract class DataPolicy<R> extends Effectable.Class<Allowed, Forbidden, R> {
  readonly [DataTypeId] = DataTypeId
  abstract decide(input: Input): Decision
  commit(): Effect.Effect<Allowed, Forbidden, R> {
    return Effect.flatMap(Effect.context<never>(), (context) => {
      const decision = this.decide(inputOf(context))
      return decision._tag === "Allowed" ? Effect.succeed(decision) : Effect.fail(decision.error)
    })
  }
}

const isData = (policy: unknown): policy is DataPolicy<unknown> =>
  typeof policy === "object" && policy !== null && DataTypeId in policy

class Fixed<R> extends DataPolicy<R> {
  constructor(readonly decision: Decision) {
    super()
  }
  decide(): Decision {
    return this.decision
  }
}

class Check<R> extends DataPolicy<R> {
  constructor(readonly check: (input: Input) => Decision) {
    super()
  }
  decide(input: Input): Decision {
    return this.check(input)
  }
}

/**
 * Decides a policy over plain data, without running an Effect: the request
 * pipeline's path. `undefined` when the policy is a custom Effect, which
 * must run with the request's services (`decide`).
 *
 * @since 0.2.0
 */
export const evaluate = (policy: Policy<unknown>, input: Input): Decision | undefined =>
  isData(policy) ? policy.decide(input) : undefined

/** Runs a policy and returns its decision as data. */
export const decide = <R>(policy: Policy<R>): Effect.Effect<Decision, never, R> =>
  Effect.match(policy, {
    onSuccess: (allowed): Decision => allowed,
    onFailure: (error): Decision => deny(error)
  })

/**
 * The policy of an operation that declares none: refused (`no_policy`), the
 * safe default.
 *
 * @since 0.2.0
 */
export const undeclared: Policy<never> = new Fixed<never>(
  deny(Forbidden.of("no_policy", "a declared policy", "the procedure declares no policy, so it is refused"))
)

/** Allows every authenticated request. */
export const authenticated: Policy<never> = new Fixed<never>(new Allowed({ grant: "authenticated" }))

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
  const wanted: string = required
  const checked = Scopes.fromTokens([wanted])
  if (Either.isLeft(checked)) throw new globalThis.Error(`Policy.scope: ${checked.left.message}`)
  const granted = new Allowed({ grant: `scope ${wanted}` })
  const denied = deny(
    Forbidden.of("missing_scope", `scope ${wanted}`, `the token lacks the scope '${wanted}'`, wanted)
  )
  return new Check<Scopes.CurrentScopes>(({ grants }) => grants.scopes.has(wanted) ? granted : denied)
}

/** Builds each value once: decisions are made per request and cost what building their values costs. */
const once = <A>(map: Map<string, A>, key: string, make: () => A): A => {
  const known = map.get(key)
  if (known !== undefined) return known
  const made = make()
  if (map.size < 64) map.set(key, made)
  return made
}

/**
 * Requires a permission from a catalogue; a permission outside the catalogue
 * is a compile error. A deny that covers it wins over every grant.
 */
export const permission = <P extends string>(
  _catalogue: Catalogue<P>,
  required: NoInfer<P>
): Policy<Scopes.CurrentScopes> => {
  const requirement = `permission ${required}`
  const missing = deny(Forbidden.of("missing_permission", requirement, `the permission '${required}' is not granted`))
  const granted = new Map<string, Allowed>()
  const denied = new Map<string, Denied>()
  return new Check<Scopes.CurrentScopes>(({ grants }) => {
    const check = grants.permissions.check(required)
    switch (check._tag) {
      case "Allowed":
        return once(granted, check.grant, () => new Allowed({ grant: `permission ${check.grant}` }))
      case "Denied":
        return once(denied, check.rule, () =>
          deny(
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
  const granted = new Allowed({ grant: `tenant ${wanted}` })
  const denied = deny(Forbidden.of("tenant_mismatch", `tenant ${wanted}`, "the request is for another tenant"))
  return new Check<CurrentTenant>((input) => input.tenant === wanted ? granted : denied)
}

/**
 * Requires a service principal; with `clientIds`, one of those clients
 * (the `client_id` claim).
 */
export const service = (...clientIds: ReadonlyArray<string>): Policy<CurrentUser> => {
  const requirement = clientIds.length === 0 ? "a service" : `service ${clientIds.join(" | ")}`
  const notService = deny(Forbidden.of("not_a_service", requirement, "the caller is not a service"))
  const wrong = deny(Forbidden.of("wrong_service", requirement, "the calling service is not allowed here"))
  const granted = new Map<string, Allowed>()
  return new Check<CurrentUser>(({ principal }) => {
    if (principal.kind !== "service") return notService
    if (clientIds.length > 0 && (principal.clientId === null || !clientIds.includes(principal.clientId))) return wrong
    const name = principal.clientId ?? principal.subject
    return once(granted, name, () => new Allowed({ grant: `service ${name}` }))
  })
}

/**
 * Requires a token exchanged by a service acting for its subject (RFC 8693
 * `act`): with `clientIds`, by one of those services. The subject is still
 * the user; this names who carries their token.
 *
 * @since 0.3.0
 */
export const actor = (...clientIds: ReadonlyArray<string>): Policy<CurrentUser> => {
  const requirement = clientIds.length === 0 ? "an acting service" : `actor ${clientIds.join(" | ")}`
  const none = deny(Forbidden.of("no_actor", requirement, "the token was not exchanged by an acting service"))
  const wrong = deny(Forbidden.of("wrong_actor", requirement, "the acting service is not allowed here"))
  const granted = new Map<string, Allowed>()
  return new Check<CurrentUser>(({ principal }) => {
    if (principal.actor === null) return none
    if (clientIds.length > 0 && !clientIds.includes(principal.actor)) return wrong
    return once(granted, principal.actor, () => new Allowed({ grant: `actor ${principal.actor}` }))
  })
}

/**
 * Requires the caller's declared claims (`Claims.declare`) to meet
 * `predicate`; `requirement` names it in refusals and the audit log. A caller
 * not authenticated with those claims is refused.
 *
 * @since 0.2.0
 */
export const claim = <A>(
  declared: Claims.Declared<A>,
  predicate: (claims: A) => boolean,
  requirement: string
): Policy<CurrentUser> => {
  const granted = new Allowed({ grant: requirement })
  const refused = deny(Forbidden.of("claim", requirement, "the caller's claims do not meet the requirement"))
  return new Check<CurrentUser>(({ principal }) => {
    const claims = declared.of(principal)
    return claims._tag === "Some" && predicate(claims.value) ? granted : refused
  })
}

/** A policy whose configuration (`Policy.fromConfig`) names something that does not exist. */
export class InvalidPolicyConfig extends Data.TaggedError("InvalidPolicyConfig")<{ readonly message: string }> {}

const TypeIdConfigured: unique symbol = Symbol.for("@warden/core/Policy/Configured")

/** A policy read from `Config` at start-up (`fromConfig`); `layerConfigured` reads it. */
export interface Configured<R> extends Policy<R> {
  readonly [TypeIdConfigured]: {
    /** Reads the configuration and sets the policy, or fails naming what is wrong. */
    readonly resolve: Effect.Effect<void, ConfigError.ConfigError | InvalidPolicyConfig>
  }
}

class ConfiguredPolicy<R> extends DataPolicy<R> {
  #resolved: Policy<R> | undefined
  readonly [TypeIdConfigured]: Configured<R>[typeof TypeIdConfigured]
  constructor(
    readonly description: string,
    read: Effect.Effect<Policy<R>, ConfigError.ConfigError | InvalidPolicyConfig>
  ) {
    super()
    this[TypeIdConfigured] = {
      resolve: Effect.map(read, (policy) => {
        this.#resolved = policy
      })
    }
  }
  decide(input: Input): Decision {
    const resolved = this.#resolved
    // Fail closed: a policy whose configuration was never read refuses.
    return resolved === undefined ? unread(this.description) : (resolved as DataPolicy<R>).decide(input)
  }
}

const unread = (description: string): Decision =>
  deny(
    Forbidden.of(
      "no_policy",
      description,
      "the policy is read from configuration at start-up, and it was not (provide Policy.layerConfigured)"
    )
  )

/**
 * A policy bound from `Config`, so environments differ without a redeploy:
 * `build` turns the configured value into a data policy, or fails with
 * `InvalidPolicyConfig` naming what is wrong. `layerConfigured` reads every
 * such policy when the server starts, so a wrong name stops it; until read,
 * the policy refuses. A configured policy is read once per process.
 *
 * @since 0.2.0
 */
export const fromConfig = <R>(
  description: string,
  config: Config.Config<string>,
  build: (value: string) => Either.Either<Policy<R>, string>
): Configured<R> =>
  new ConfiguredPolicy<R>(
    description,
    Effect.flatMap(config, (value) =>
      Either.match(build(value), {
        onLeft: (message) => Effect.fail(new InvalidPolicyConfig({ message: `${description}: ${message}` })),
        onRight: (policy) =>
          isData(policy) ?
            Effect.succeed(policy) :
            Effect.fail(new InvalidPolicyConfig({ message: `${description}: a configured policy must be data` }))
      }))
  ) as unknown as Configured<R>

/**
 * Requires the scope a `Config` names (e.g. `Config.string("ORDERS_WRITE_SCOPE")`).
 *
 * @since 0.2.0
 */
export const scopeFromConfig = (config: Config.Config<string>): Configured<Scopes.CurrentScopes> =>
  fromConfig("configured scope", config, (value) => {
    const checked = Scopes.fromTokens([value])
    return Either.isLeft(checked) ?
      Either.left(`'${value}' is not a scope-token`) :
      Either.right(scope(value as Scopes.ScopeToken))
  })

/**
 * Requires the permission a `Config` names; a name outside the catalogue is
 * an `InvalidPolicyConfig` when the server starts.
 *
 * @since 0.2.0
 */
export const permissionFromConfig = <P extends string>(
  catalogue: Catalogue<P>,
  config: Config.Config<string>
): Configured<Scopes.CurrentScopes> =>
  fromConfig("configured permission", config, (value) =>
    catalogue.has(value) ?
      Either.right(permission(catalogue, value)) :
      Either.left(`'${value}' is not a permission of the catalogue`))

/**
 * Reads every configured policy when the layer is built; the layer fails
 * with the first one whose configuration is missing or names something that
 * does not exist.
 *
 * @since 0.2.0
 */
export const layerConfigured = (
  ...policies: ReadonlyArray<Configured<unknown>>
): Layer.Layer<never, ConfigError.ConfigError | InvalidPolicyConfig> =>
  Layer.effectDiscard(Effect.forEach(policies, (policy) => policy[TypeIdConfigured].resolve, { discard: true }))

/** Requires a user principal (not a service acting for itself). */
export const user: Policy<CurrentUser> = (() => {
  const granted = new Allowed({ grant: "user" })
  const denied = deny(Forbidden.of("not_a_user", "a user", "the caller is a service, not a user"))
  return new Check<CurrentUser>(({ principal }) => principal.kind === "user" ? granted : denied)
})()

/** Any policy, whatever it reads. */
export type AnyPolicy = Policy<unknown>

type ContextOf<Ps extends ReadonlyArray<AnyPolicy>> = Effect.Effect.Context<Ps[number]>

const allOf = (grants: ReadonlyArray<string>): Allowed => new Allowed({ grant: grants.join(" and ") })

const noAlternative = (refusals: ReadonlyArray<Forbidden>): Forbidden =>
  Forbidden.of(
    "no_alternative",
    `any of (${refusals.map((f) => f.requirement).join(" | ")})`,
    `none of the alternatives allowed: ${refusals.map((f) => f.description).join("; ")}`,
    refusals.find((f) => f.scope !== null)?.scope ?? null
  )

const negated = (allowed: Allowed): Denied =>
  deny(Forbidden.of("negated", `not (${allowed.grant})`, "the request matches an excluded grant"))

/** Allows when every policy allows; fails with the first refusal. */
export const all = <const Ps extends readonly [AnyPolicy, ...Array<AnyPolicy>]>(
  ...policies: Ps
): Policy<ContextOf<Ps>> => {
  if (policies.every(isData)) {
    const parts = policies as ReadonlyArray<DataPolicy<unknown>>
    return new Check<ContextOf<Ps>>((input) => {
      const grants: Array<string> = []
      for (const part of parts) {
        const decision = part.decide(input)
        if (decision._tag === "Denied") return decision
        grants.push(decision.grant)
      }
      return allOf(grants)
    })
  }
  return Effect.map(
    Effect.forEach(policies, (policy) => policy as Policy<ContextOf<Ps>>),
    (allowed) => allOf(allowed.map((a) => a.grant))
  )
}

/** Allows when one policy allows (tried in order); otherwise `no_alternative`. */
export const any = <const Ps extends readonly [AnyPolicy, ...Array<AnyPolicy>]>(
  ...policies: Ps
): Policy<ContextOf<Ps>> => {
  if (policies.every(isData)) {
    const parts = policies as ReadonlyArray<DataPolicy<unknown>>
    return new Check<ContextOf<Ps>>((input) => {
      const refusals: Array<Forbidden> = []
      for (const part of parts) {
        const decision = part.decide(input)
        if (decision._tag === "Allowed") return decision
        refusals.push(decision.error)
      }
      return deny(noAlternative(refusals))
    })
  }
  return Effect.suspend(() => {
    const refusals: Array<Forbidden> = []
    const loop = (i: number): Policy<ContextOf<Ps>> =>
      i >= policies.length ?
        Effect.fail(noAlternative(refusals)) :
        Effect.catchTag(policies[i] as Policy<ContextOf<Ps>>, "Forbidden", (refusal) => {
          refusals.push(refusal)
          return loop(i + 1)
        })
    return loop(0)
  })
}

/** Allows exactly when `policy` refuses. */
export const not = <R>(policy: Policy<R>): Policy<R> => {
  if (isData(policy)) {
    return new Check<R>((input) => {
      const decision = policy.decide(input)
      return decision._tag === "Allowed" ?
        negated(decision) :
        new Allowed({ grant: `not (${decision.requirement})` })
    })
  }
  return Effect.matchEffect(policy, {
    onFailure: (refusal) => Effect.succeed(new Allowed({ grant: `not (${refusal.requirement})` })),
    onSuccess: (allowed) => Effect.fail(negated(allowed).error)
  })
}

/** A client id, for `service`. */
export type { ClientId }
