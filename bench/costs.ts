/**
 * The cost of the building blocks Warden's hot paths are made of, measured in
 * the same run, inside a running fiber: to explain the figures of the other
 * sections from timings, next to the CPU profiles.
 */
import {
  AuditLog,
  Authenticator,
  Claims,
  Credential,
  CurrentScopes,
  Forbidden,
  Guard,
  Permission,
  Policy,
  Principal,
  Scopes
} from "@warden/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
// The strict compact check is internal to @warden/jwt: measured from its source, as nothing outside may import it.
import * as Compact from "../packages/jwt/dist/src/internal/compact.js"
import { byName, timeCases } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"
import { audience, baseClaims, generateKey, issuer, makeVerifier, signWithIssuer, startJwks } from "./lib/identity.js"

export const names = {
  step: "one Effect step (yield* Effect.succeed)",
  gen: "Effect.gen (a nested generator)",
  span: "Effect.withSpan (default: captures a stack trace)",
  spanNoStack: "Effect.withSpan (captureStackTrace: false)",
  taggedMetric: "Metric.increment(Metric.tagged(counter, k, v))",
  metric: "Metric.increment(counter) (tagged once, reused)",
  provide: "Effect.provideService",
  annotate: "Effect.annotateCurrentSpan (4 attributes, inside a span)",
  annotateNoSpan: "Effect.annotateCurrentSpan (4 attributes, no current span: its error path)",
  attribute: "span.attribute × 4 on the fiber's current span (the pipeline's way)",
  runNow: "Guard.runNow (table authenticator, claims grants, memory audit, a permission policy)",
  evaluate: "Policy.evaluate (Policy.permission, as data)",
  error: "new Error()",
  forbidden: "Forbidden.of(...) (a Schema.TaggedError)",
  compile: "Permission.compile (5 grants)",
  toPrincipal: "Claims.toPrincipal (the claims checked field by field)",
  split: "Compact.split (strict compact and JSON checks of a token)",
  find: "KeyStore.find (known kid, key already imported)"
} as const

export interface Costs {
  readonly timings: Array<Timing>
  /** ns per operation, by name. */
  readonly of: (name: (typeof names)[keyof typeof names]) => number
}

const counter = Metric.counter("bench_cost_total")
const batch = 200

/** Runs `make()` `batch` times in one fiber. */
const inFiber = (make: () => Effect.Effect<unknown, unknown>) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < batch; i++) yield* make()
  })
  return () => Effect.runSync(loop)
}

/** The same, inside a span, as a request's fiber is. */
const inSpan = (make: () => Effect.Effect<unknown, unknown>) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < batch; i++) yield* make()
  }).pipe(Effect.withSpan("request", { captureStackTrace: false }))
  return () => Effect.runSync(loop)
}

export const run = async (rounds: number): Promise<Costs> => {
  const grants = { allow: baseClaims.perms, deny: baseClaims.denies }
  const scopes = { scopes: Scopes.empty, permissions: Permission.compile(grants) }
  const claims = { ...baseClaims, iss: issuer, aud: audience, iat: 1, exp: 2, jti: "j" }
  const mapping = { permissionsClaim: "perms", denyClaim: "denies", authenticatedBy: "jwt" } as const
  const succeed = Effect.succeed(1)
  const key = await generateKey("ES256", "bench-costs")
  const jwks = await startJwks([key])
  const { close, keys } = await makeVerifier(jwks.url)
  const token = await signWithIssuer(key)
  const header = { kid: key.kid, alg: key.alg }
  // The first lookup imports the key (asynchronously); the timed ones find it imported.
  await Effect.runPromise(keys.find(header))
  // The pipeline on its fast path: every part answers at once.
  const principal = Principal.make({
    subject: "user-0042",
    tenant: "tenant-3",
    issuer,
    permissions: grants,
    expiresAt: Math.floor(Date.now() / 1000) + 3600
  })
  const catalogue = Permission.catalogue("inventory:stock:reserve")
  const permissionPolicy = Policy.permission(catalogue, "inventory:stock:reserve")
  const guard = Effect.runSync(
    Guard.make.pipe(
      Effect.provide(
        Layer.merge(
          Authenticator.layerTest([["token", principal]]),
          Layer.succeed(AuditLog.AuditLog, { record: () => Effect.void, recordNow: () => undefined })
        )
      )
    )
  )
  const guardRequest: Guard.Request = {
    credential: Either.right(Credential.bearer("token")),
    tenant: undefined,
    operation: { name: "Reserve", resolve: true, policy: permissionPolicy }
  }
  const policyInput = { principal, tenant: principal.tenant, grants: scopes }
  const n = names
  const timings = await timeCases([
    { name: n.step, ops: batch, fn: inFiber(() => succeed) },
    {
      name: n.gen,
      ops: batch,
      fn: inFiber(() =>
        Effect.gen(function*() {
          return yield* succeed
        })
      )
    },
    { name: n.span, ops: batch, fn: inFiber(() => Effect.withSpan(succeed, "s")) },
    { name: n.spanNoStack, ops: batch, fn: inFiber(() => Effect.withSpan(succeed, "s", { captureStackTrace: false })) },
    { name: n.taggedMetric, ops: batch, fn: inFiber(() => Metric.increment(Metric.tagged(counter, "k", "v"))) },
    { name: n.metric, ops: batch, fn: inFiber(() => Metric.increment(counter)) },
    { name: n.provide, ops: batch, fn: inFiber(() => Effect.provideService(succeed, CurrentScopes, scopes)) },
    { name: n.annotate, ops: batch, fn: inSpan(() => Effect.annotateCurrentSpan({ a: 1, b: 2, c: 3, d: 4 })) },
    {
      name: n.annotateNoSpan,
      ops: batch,
      fn: inFiber(() => Effect.annotateCurrentSpan({ a: 1, b: 2, c: 3, d: 4 }))
    },
    {
      name: n.attribute,
      ops: batch,
      fn: inSpan(() =>
        Effect.withFiberRuntime((fiber) => {
          const span = fiber.currentSpan
          if (span?._tag === "Span") {
            span.attribute("a", 1)
            span.attribute("b", 2)
            span.attribute("c", 3)
            span.attribute("d", 4)
          }
          return Effect.void
        })
      )
    },
    {
      name: n.runNow,
      ops: batch,
      fn: inSpan(() => Effect.withFiberRuntime((fiber) => Guard.toEffect(guard.runNow(guardRequest, fiber))))
    },
    {
      name: n.evaluate,
      ops: batch,
      fn: inFiber(() => Effect.sync(() => Policy.evaluate(permissionPolicy, policyInput)))
    },
    { name: n.error, ops: batch, fn: inFiber(() => Effect.sync(() => new Error("x"))) },
    {
      name: n.forbidden,
      ops: batch,
      fn: inFiber(() => Effect.sync(() => Forbidden.of("missing_permission", "p", "d")))
    },
    { name: n.compile, ops: batch, fn: inFiber(() => Effect.sync(() => Permission.compile(grants))) },
    { name: n.toPrincipal, ops: batch, fn: inFiber(() => Effect.sync(() => Claims.toPrincipal(claims, mapping))) },
    { name: n.split, ops: batch, fn: inFiber(() => Effect.sync(() => Compact.split(token, 8192))) },
    { name: n.find, ops: batch, fn: inFiber(() => keys.find(header)) }
  ], rounds)
  await close()
  await jwks.close()
  return { timings, of: (name) => byName(timings, name).median }
}
