/**
 * The `Authorization` middleware: evaluates the policy declared on the
 * procedure (the `RequiredPolicy` annotation), records the decision on the
 * current span and in the `AuditLog`, and refuses with `Forbidden`.
 *
 * A procedure that carries the middleware but declares no policy is refused:
 * the safe default.
 *
 * @since 0.1.0
 */
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as AuditLog from "@warden/core/AuditLog"
import type { Authenticator } from "@warden/core/Authenticator"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Policy from "@warden/core/Policy"
import { CurrentUser } from "@warden/core/Principal"
import { CurrentScopes } from "@warden/core/Scopes"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as RequestAuth from "./internal/requestAuth.js"

/** The policy a procedure requires; set it with `Rpc.annotate` or `Protected.group`. */
export class RequiredPolicy extends Context.Tag("@warden/rpc/RequiredPolicy")<
  RequiredPolicy,
  Policy.Policy<Policy.PolicyContext>
>() {}

/** Enforces each procedure's `RequiredPolicy`. */
export class Authorization extends RpcMiddleware.Tag<Authorization>()("@warden/rpc/Authorization", {
  failure: Schema.Union(Unauthenticated, Forbidden)
}) {}

/**
 * Decisions by outcome (`warden_decisions_total`, tagged `decision`) and
 * refusals by reason (`warden_refusals_total`, tagged `reason`, refusals of
 * unauthenticated callers included), to read or to export.
 */
export const metrics = RequestAuth.metrics

const undeclared: Policy.Policy<never> = Effect.fail(
  Forbidden.of("no_policy", "a declared policy", "the procedure declares no policy, so it is refused")
)

/** The middleware's implementation. */
export const layer: Layer.Layer<Authorization, never, Authenticator | AuditLog.AuditLog> = Layer.effect(
  Authorization,
  Effect.gen(function*() {
    const auth = yield* RequestAuth.RequestAuth
    const audit = yield* AuditLog.AuditLog
    return (options) =>
      Effect.gen(function*() {
        const { grants, principal, tenant } = yield* auth.resolve(options)
        const policy = Option.getOrElse(Context.getOption(options.rpc.annotations, RequiredPolicy), () => undeclared)
        const decision = yield* Policy.decide(policy).pipe(
          Effect.provideService(CurrentUser, principal),
          Effect.provideService(CurrentTenant, tenant),
          Effect.provideService(CurrentScopes, grants)
        )
        const allowed = decision._tag === "Allowed"
        const reason = allowed ? decision.grant : decision.reason
        const requirement = allowed ? decision.grant : decision.requirement
        yield* Effect.annotateCurrentSpan({
          "warden.decision": allowed ? "allowed" : "denied",
          "warden.reason": reason,
          "warden.requirement": requirement
        })
        yield* Metric.increment(RequestAuth.decisionsBy(allowed ? "allowed" : "denied"))
        if (!allowed) yield* Metric.increment(RequestAuth.refusalsBy(decision.reason))
        yield* audit.record({
          time: yield* RequestAuth.now,
          tenant,
          subject: principal.subject,
          clientId: principal.clientId,
          procedure: options.rpc._tag,
          decision: allowed ? "allowed" : "denied",
          reason,
          requirement,
          traceId: yield* RequestAuth.currentTraceId
        })
        if (!allowed) return yield* decision.error
      })
  })
).pipe(Layer.provide(RequestAuth.layer))
