/**
 * The request decision, transport-neutral: credentials in; authenticated
 * once, the tenant selected, the grants loaded for (principal, tenant), the
 * operation's policy evaluated and the decision recorded once (span
 * attributes, one metric update, one audit event); the principal, tenant and
 * grants out, or a typed refusal.
 *
 * Transports (`@warden/rpc`, `@warden/http`) only extract the credentials and
 * the tenant selector, call `run` once per request, provide what it returns
 * and render its refusals. Nothing about tenants, grants, audit or spans is
 * written in a transport.
 *
 * The hot path is plain functions: tenant selection and data policies are
 * decided without an Effect per step, the span is annotated and the metric
 * updated in place, and what depends only on the token (the principal, its
 * compiled grants) comes from the verifier's cache.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as AuditLog from "./AuditLog.js"
import { Authenticator } from "./Authenticator.js"
import { Forbidden, Unauthenticated } from "./AuthError.js"
import type { Credential } from "./Credential.js"
import { GrantSource } from "./GrantSource.js"
import { isoTime } from "./internal/time.js"
import * as Metrics from "./Metrics.js"
import * as Policy from "./Policy.js"
import type { Principal } from "./Principal.js"
import { CurrentUser } from "./Principal.js"
import type { Grants } from "./Scopes.js"
import * as Scopes from "./Scopes.js"
import * as Tenant from "./Tenant.js"

/** What is decided for an operation: who calls, or also for which tenant and with which grants, and the policy. */
export interface Operation {
  /** The operation's name for the audit log (an RPC tag, an HTTP endpoint). */
  readonly name: string
  /**
   * Whether the tenant and the grants are needed. When not, a refused
   * `x-tenant` selection is not a refusal (it is reported in `tenant`).
   */
  readonly resolve: boolean
  /** The policy to evaluate; `undefined` decides nothing beyond authentication (and resolution). */
  readonly policy: Policy.Policy<Policy.PolicyContext> | undefined
}

/** One request, as a transport extracted it. */
export interface Request {
  /** The credentials, or why the transport found none it could read (missing, malformed, conflicting). */
  readonly credential: Either.Either<Credential, Unauthenticated>
  /** The tenant the caller selected (`x-tenant`), if any. */
  readonly tenant: string | undefined
  readonly operation: Operation
}

/** What a request passed with. */
export interface Passed {
  readonly principal: Principal
  readonly credential: Credential
  /** The tenant the request acts for, or why the selection was refused (only when the operation does not resolve). */
  readonly tenant: Either.Either<Tenant.TenantId, Forbidden>
  /** The grants for (principal, tenant), when the operation resolves. */
  readonly grants: Grants | undefined
  /** The policy's decision, when the operation has one. */
  readonly allowed: Policy.Allowed | undefined
}

/** A refusal, as the pipeline returns it. */
export type Refusal = Unauthenticated | Forbidden

/**
 * What `runNow` answers: the request passed, or was refused, or (when some
 * part must do I/O: a token never seen, a store over the network) the Effect
 * that decides it.
 */
export type Answer = Passed | Refusal | Effect.Effect<Passed, Refusal>

/** The pipeline. */
export class Guard extends Context.Tag("@warden/core/Guard")<Guard, {
  /** Decides a request. */
  readonly run: (request: Request) => Effect.Effect<Passed, Refusal>
  /**
   * The same decision, made in the calling fiber without running an Effect
   * when every part can answer at once (a verified-token cache hit, stores
   * in memory): the request path of a transport adapter.
   */
  readonly runNow: (request: Request, fiber: Fiber.RuntimeFiber<unknown, unknown>) => Answer
}>() {}

/** Whether an answer is a refusal. */
export const isRefusal = (answer: Answer): answer is Refusal =>
  answer instanceof Unauthenticated || answer instanceof Forbidden

/** An answer as an Effect. */
export const toEffect = (answer: Answer): Effect.Effect<Passed, Refusal> =>
  isRefusal(answer) ? Effect.fail(answer) : Effect.isEffect(answer) ? answer : Effect.succeed(answer)

/**
 * Selects the tenant a request acts for: the principal's own without a
 * selector, else the selected one if the credentials sign it. Pure.
 */
export const selectTenant = (
  principal: Principal,
  selector: string | undefined
): Either.Either<Tenant.TenantId, Forbidden> => {
  if (selector === undefined) return Either.right(principal.tenant)
  const selected = Tenant.decodeOption(selector)
  if (Option.isSome(selected) && principal.signs(selected.value)) return Either.right(selected.value)
  return Either.left(
    Forbidden.of(
      "tenant_not_signed",
      `tenant ${Option.isSome(selected) ? selected.value : "(malformed)"}`,
      "the x-tenant header names a tenant the credentials do not sign"
    )
  )
}

const decisions = Metric.counter("warden_decisions_total", { description: "Authorization decisions, by outcome" })
const refusals = Metric.counter("warden_refusals_total", {
  description: "Refused requests, by reason, unauthenticated callers included"
})

/** Decisions by outcome (tagged `decision`) and refusals by reason (tagged `reason`). */
export const metrics = { decisions, refusals } as const

const decisionsBy = Metrics.taggedBy(decisions, "decision")
const refusalsBy = Metrics.taggedBy(refusals, "reason")
const allowedCount = decisionsBy("allowed")
const deniedCount = decisionsBy("denied")

const auditUnavailable = Unauthenticated.of(
  "unavailable",
  "the audit log cannot record decisions, so the request is refused rather than decided unrecorded"
)

interface Outcome {
  readonly principal: Principal | undefined
  readonly tenant: Tenant.TenantId | null
  readonly decision: "allowed" | "denied"
  readonly reason: string
  readonly requirement: string
}

/** A value now, or the Effect that gives it. */
type Now<A> = A | Refusal | Effect.Effect<A, Refusal>

const isNowRefusal = <A>(now: Now<A>): now is Refusal => now instanceof Unauthenticated || now instanceof Forbidden

/** Continues with `f` now when `now` is a value, or after the Effect. A refusal is passed through. */
const then = <A, B>(now: Now<A>, f: (a: A) => Now<B>): Now<B> => {
  if (isNowRefusal(now)) return now
  if (Effect.isEffect(now)) return Effect.flatMap(now, (a) => lift(f(a)))
  return f(now)
}

const lift = <A>(now: Now<A>): Effect.Effect<A, Refusal> =>
  isNowRefusal(now) ? Effect.fail(now) : Effect.isEffect(now) ? now : Effect.succeed(now)

/** Builds the pipeline over an authenticator and an audit log (and the `GrantSource` in context). */
export const make: Effect.Effect<Context.Tag.Service<Guard>, never, Authenticator | AuditLog.AuditLog> = Effect.gen(
  function*() {
    const authenticator = yield* Authenticator
    const audit = yield* AuditLog.AuditLog
    const grantSource = yield* GrantSource

    /**
     * The one place a decision is recorded: span attributes, one metric
     * update, one audit event. Returns the refusal to answer with when the
     * audit log cannot record.
     */
    const record = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      now: number,
      operation: Operation,
      outcome: Outcome
    ): Now<void> => {
      const span = fiber.currentSpan
      const { principal } = outcome
      if (span !== undefined && span._tag === "Span") {
        if (principal !== undefined) {
          span.attribute("enduser.id", principal.subject)
          span.attribute("enduser.scope", Scopes.render(principal.scopes))
          span.attribute("warden.principal.kind", principal.kind)
        }
        if (outcome.tenant !== null) span.attribute("tenant.id", outcome.tenant)
        span.attribute("warden.decision", outcome.decision)
        span.attribute("warden.reason", outcome.reason)
        span.attribute("warden.requirement", outcome.requirement)
      }
      if (outcome.decision === "allowed") {
        allowedCount.unsafeUpdate(1, [])
      } else {
        deniedCount.unsafeUpdate(1, [])
        refusalsBy(outcome.reason).unsafeUpdate(1, [])
      }
      const event: AuditLog.AuditEvent = {
        time: isoTime(now),
        tenant: outcome.tenant,
        subject: principal?.subject ?? null,
        clientId: principal?.clientId ?? null,
        procedure: operation.name,
        decision: outcome.decision,
        reason: outcome.reason,
        requirement: outcome.requirement,
        traceId: span?.traceId ?? null
      }
      if (audit.recordNow !== undefined) return audit.recordNow(event) === undefined ? undefined : auditUnavailable
      return Effect.catchTag(audit.record(event), "AuditUnavailable", () => Effect.fail(auditUnavailable))
    }

    const refuse = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      now: number,
      operation: Operation,
      error: Refusal,
      principal: Principal | undefined,
      tenant: Tenant.TenantId | null
    ): Now<never> =>
      then(
        record(fiber, now, operation, {
          principal,
          tenant,
          decision: "denied",
          reason: error.reason,
          requirement: error._tag === "Forbidden" ? error.requirement : "authenticated"
        }),
        (): Now<never> => error
      )

    const decide = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      now: number,
      request: Request,
      credential: Credential,
      principal: Principal,
      tenant: Tenant.TenantId,
      grants: Grants
    ): Now<Passed> => {
      const { operation } = request
      const passed = (allowed: Policy.Allowed | undefined): Passed => ({
        principal,
        credential,
        tenant: Either.right(tenant),
        grants,
        allowed
      })
      const policy = operation.policy
      if (policy === undefined) return passed(undefined)
      const conclude = (decision: Policy.Decision): Now<Passed> =>
        decision._tag === "Allowed" ?
          then(
            record(fiber, now, operation, {
              principal,
              tenant,
              decision: "allowed",
              reason: decision.grant,
              requirement: decision.grant
            }),
            () => passed(decision)
          ) :
          refuse(fiber, now, operation, decision.error, principal, tenant)
      const decision = Policy.evaluate(policy, { principal, tenant, grants })
      if (decision !== undefined) return conclude(decision)
      // A custom policy is an Effect over the request's services.
      return Effect.flatMap(
        Policy.decide(policy).pipe(
          Effect.provide(
            Context.make(CurrentUser, principal).pipe(
              Context.add(Tenant.CurrentTenant, tenant),
              Context.add(Scopes.CurrentScopes, grants)
            )
          )
        ),
        (decision) => lift(conclude(decision))
      )
    }

    const authenticated = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      now: number,
      request: Request,
      credential: Credential,
      principal: Principal
    ): Now<Passed> => {
      const tenant = selectTenant(principal, request.tenant)
      const { operation } = request
      if (!operation.resolve) return { principal, credential, tenant, grants: undefined, allowed: undefined }
      if (Either.isLeft(tenant)) return refuse(fiber, now, operation, tenant.left, principal, principal.tenant)
      const selected = tenant.right
      const grants = grantSource.grantsNow?.(principal, selected)
      if (grants !== undefined) return decide(fiber, now, request, credential, principal, selected, grants)
      return Effect.matchEffect(grantSource.grants(principal, selected), {
        onFailure: (error) => lift(refuse(fiber, now, operation, error, principal, selected)),
        onSuccess: (grants) => lift(decide(fiber, now, request, credential, principal, selected, grants))
      })
    }

    /** The rest of a request once its principal is known, in whichever fiber runs it then. */
    const resume = (request: Request, credential: Credential, principal: Principal) =>
      Effect.withFiberRuntime<Passed, Refusal>((fiber) =>
        lift(authenticated(fiber, clockOf(fiber), request, credential, principal))
      )
    const refuseLater = (request: Request, error: Unauthenticated) =>
      Effect.withFiberRuntime<never, Refusal>((fiber) =>
        lift(refuse(fiber, clockOf(fiber), request.operation, error, undefined, null))
      )

    const runNow = (request: Request, fiber: Fiber.RuntimeFiber<unknown, unknown>): Answer => {
      const now = clockOf(fiber)
      const { credential } = request
      if (Either.isLeft(credential)) return refuse(fiber, now, request.operation, credential.left, undefined, null)
      const known = authenticator.authenticateNow?.(credential.right, now)
      if (known === undefined) {
        return Effect.matchEffect(authenticator.authenticate(credential.right), {
          onFailure: (error) => refuseLater(request, error),
          onSuccess: (principal) => resume(request, credential.right, principal)
        })
      }
      if (known instanceof Unauthenticated) return refuse(fiber, now, request.operation, known, undefined, null)
      return authenticated(fiber, now, request, credential.right, known)
    }

    return {
      runNow,
      run: (request) => Effect.withFiberRuntime((fiber) => toEffect(runNow(request, fiber)))
    }
  }
)

/** The current time of the fiber's `Clock`, without an Effect. */
const clockOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()

/** The pipeline as a layer. */
export const layer: Layer.Layer<Guard, never, Authenticator | AuditLog.AuditLog> = Layer.effect(Guard, make)
