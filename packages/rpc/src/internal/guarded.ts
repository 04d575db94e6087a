/**
 * The RPC adapter over core's `Guard`: the four Warden middlewares are one
 * mechanism. Whichever of them a procedure carries, the outermost runs the
 * pipeline once (with what the others need: the tenant and grants for
 * `TenantContext` and `ScopeContext`, the policy for `Authorization`) and
 * provides every service in one context; the others pass through.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSchema from "@effect/rpc/RpcSchema"
import { Forbidden, Unauthenticated } from "@warden/core/AuthError"
import * as Caller from "@warden/core/Caller"
import * as Credential from "@warden/core/Credential"
import * as Guard from "@warden/core/Guard"
import * as Policy from "@warden/core/Policy"
import { CurrentUser } from "@warden/core/Principal"
import { CurrentScopes } from "@warden/core/Scopes"
import { CurrentTenant } from "@warden/core/Tenant"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Bearer from "./bearer.js"

/** The middlewares' keys. */
export const keys = {
  authentication: "@warden/rpc/Authentication",
  tenantContext: "@warden/rpc/TenantContext",
  scopeContext: "@warden/rpc/ScopeContext",
  authorization: "@warden/rpc/Authorization",
  guarded: "@warden/rpc/Guarded"
} as const

/**
 * What `Protected.group` attaches at run time in place of the four
 * middlewares its type names: one middleware playing all four roles, so the
 * RPC server wraps each protected call once rather than four times. Its
 * failures are those of the four.
 */
export class Guarded extends RpcMiddleware.Tag<Guarded>()(keys.guarded, {
  failure: Schema.Union(Unauthenticated, Forbidden),
  wrap: true
}) {}

/** The header a multi-tenant credential may use to select one of its signed tenants. */
export const tenantHeader = "x-tenant"

/** The policy a procedure requires; set it with `Rpc.annotate` or `Protected.group`. */
export class RequiredPolicy extends Context.Tag("@warden/rpc/RequiredPolicy")<
  RequiredPolicy,
  Policy.Policy<Policy.PolicyContext>
>() {}

/**
 * Annotates a streaming procedure whose stream may outlive the caller's token:
 * authenticated once at the start, trusted for the stream's lifetime.
 */
export class TrustForStreamLifetime
  extends Context.Tag("@warden/rpc/TrustForStreamLifetime")<TrustForStreamLifetime, boolean>()
{}

/** What a procedure's Warden middlewares ask for, worked out once per procedure. */
interface Plan {
  /** The key of the outermost Warden middleware: the one that runs the pipeline. */
  readonly leader: string
  readonly operation: Guard.Operation
  /** Whether a stream is ended when the caller's token expires. */
  readonly guardsStream: boolean
}

const plans = new WeakMap<Rpc.AnyWithProps, Plan>()

const planOf = (rpc: Rpc.AnyWithProps): Plan => {
  const known = plans.get(rpc)
  if (known !== undefined) return known
  const present = new Set<string>()
  let leader = ""
  // Middlewares apply in order, each wrapping the ones before it: the last is the outermost.
  for (const tag of rpc.middlewares) {
    const key = (tag as RpcMiddleware.TagClassAny).key
    if (Object.values(keys).includes(key as never)) {
      present.add(key)
      leader = key
    }
  }
  // Guarded plays every role.
  if (present.has(keys.guarded)) {
    for (const role of [keys.authentication, keys.tenantContext, keys.scopeContext, keys.authorization]) {
      present.add(role)
    }
  }
  const authorizes = present.has(keys.authorization)
  const plan: Plan = {
    leader,
    operation: {
      name: rpc._tag,
      resolve: authorizes || present.has(keys.tenantContext) || present.has(keys.scopeContext),
      policy: authorizes ? Context.getOrElse(rpc.annotations, RequiredPolicy, () => Policy.undeclared) : undefined
    },
    guardsStream: RpcSchema.isStreamSchema(rpc.successSchema) &&
      !Context.getOrElse(rpc.annotations, TrustForStreamLifetime, () => false)
  }
  plans.set(rpc, plan)
  return plan
}

const expiredMidStream = Unauthenticated.of("expired", "the token expired during the stream")

type WrapOptions = Parameters<RpcMiddleware.RpcMiddlewareWrap<never, never>>[0]

/**
 * Runs the procedure with every service the request passed with, in one
 * provision on `fiber`, the request's fiber, which runs this.
 */
const proceed = (
  plan: Plan,
  next: Effect.Effect<RpcMiddleware.SuccessValue>,
  passed: Guard.Passed,
  fiber: Fiber.RuntimeFiber<unknown, unknown>
): Effect.Effect<RpcMiddleware.SuccessValue, Unauthenticated> => {
  // One provision for every service: the request's fiber gets a context holding them, set once. The RPC server runs
  // each request in a fiber of its own, and what runs in it after the procedure is the server writing the response,
  // so the context is not put back: `Effect.provide` would copy the fiber's refs four times and mask interruption
  // around the procedure to do so, for nothing this request could observe.
  const services = new Map(fiber.getFiberRef(FiberRef.currentContext).unsafeMap)
  services.set(CurrentUser.key, passed.principal).set(Caller.CallerCredentials.key, Caller.fromPassed(passed))
  if (passed.grants !== undefined && Either.isRight(passed.tenant)) {
    services.set(CurrentTenant.key, passed.tenant.right).set(CurrentScopes.key, passed.grants)
  }
  const provided = Effect.zipRight(FiberRef.set(FiberRef.currentContext, Context.unsafeMake(services)), next)
  const expiresAt = passed.principal.expiresAt
  if (!plan.guardsStream || expiresAt === null) return provided
  return Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
    Effect.timeoutFail(provided, {
      duration: Duration.millis(Math.max(0, expiresAt * 1000 - now)),
      onTimeout: () => expiredMidStream
    }))
}

/**
 * The implementation shared by the four middlewares: `key` is the one being
 * run. Every one but the procedure's outermost Warden middleware passes
 * through.
 */
export const middleware = <Service>(key: string): Effect.Effect<Service, never, Guard.Guard> =>
  Effect.map(
    Guard.Guard,
    (guard) => (options: WrapOptions) => {
      const plan = planOf(options.rpc)
      if (plan.leader !== key) return options.next
      const headers = options.headers as Readonly<Record<string, string | undefined>>
      return Effect.withFiberRuntime<RpcMiddleware.SuccessValue, Guard.Refusal>((fiber) => {
        const request = fiber.currentContext.unsafeMap.get(HttpServerRequest.HttpServerRequest.key) as
          | HttpServerRequest.HttpServerRequest
          | undefined
        const apiKeyHeader = Context.get(fiber.currentContext, Credential.ApiKeyHeader)
        const transport = request === undefined ? undefined : {
          authorization: request.headers["authorization"],
          apiKey: request.headers[apiKeyHeader]
        }
        let credential = Bearer.fromHeaders(headers, transport, apiKeyHeader)
        // No token and no key: over TLS, the client certificate the socket verified (never a header).
        if (Either.isLeft(credential) && credential.left.reason === "missing_credentials" && request !== undefined) {
          const peer = Credential.fromTlsSocket(Credential.socketOf(request.source))
          if (peer !== undefined) credential = Either.right(peer)
        }
        const answer = guard.runNow({
          credential,
          tenant: headers[tenantHeader],
          operation: plan.operation
        }, fiber)
        if (Guard.isRefusal(answer)) return Effect.fail(answer)
        if (Effect.isEffect(answer)) {
          return Effect.flatMap(answer, (passed) => proceed(plan, options.next, passed, fiber))
        }
        return proceed(plan, options.next, answer, fiber)
      }) as unknown as Effect.Effect<RpcMiddleware.SuccessValue, never>
    }
  ) as unknown as Effect.Effect<Service, never, Guard.Guard>

/**
 * A middleware's layer: its own tag, and `Guarded` beside it, so that
 * whichever of the four layers a server provides, the procedures of a
 * `Protected.group` find the middleware they run.
 */
export const layer = <I, S>(tag: Context.Tag<I, S>, key: string): Layer.Layer<I, never, Guard.Guard> =>
  Layer.effectContext(
    Effect.zipWith(
      middleware<S>(key),
      middleware<Context.Tag.Service<Guarded>>(keys.guarded),
      (own, guarded) => Context.make(tag, own).pipe(Context.add(Guarded, guarded))
    )
  )
