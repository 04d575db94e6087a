/**
 * Invariant 6: key rotation. For any interleaving of rotations, retirements,
 * JWKS outages, explicit refreshes, clock steps and verifications, a token
 * verifies exactly when its key is in the key store's current set, or the
 * set is within the stale window after failed fetches.
 *
 * A model-based test (fast-check commands, run by `asyncModelRun` inside the
 * test's Effect): every command is applied both to a `TestIdentityProvider`
 * with a verifier on it, and to this model of the key store:
 *
 * - The store's set is the provider's published set as of the last
 *   successful fetch (`view`, at `fetchedAt`).
 * - A fetch happens on a verification whose set is stale (older than
 *   `maxStale`) or whose kid is not in it, unless such an on-demand fetch
 *   was attempted within the `cooldown` (failed attempts count); an explicit
 *   refresh always fetches, and does not start the cooldown (only on-demand
 *   fetches do). A fetch fails while the JWKS is down, keeping the old set.
 * - A verification is `keys_unavailable` if the set is still stale after
 *   that, `unknown_key` if the kid is still not in it, and succeeds
 *   otherwise.
 *
 * Rotation publishes a new key and signs a token with it; retirement stops
 * publishing one (it leaves the store's set at the next fetch). After every
 * command the store's key ids and fetch count must equal the model's. Tokens
 * live 12 hours, far longer than a run.
 *
 * Time is a manual `Clock` that moves only when a command says so, at once.
 * (The TestClock would do, but each `TestClock.adjust` waits for the test's
 * fibers to settle over several real timer turns, a few milliseconds a step,
 * which over thousands of steps would be most of the run.) Nothing here
 * sleeps on it: the refresh interval is a year and the clock never gets
 * there, and a fetch's timeout never fires, so every fetch is one the model
 * accounts for.
 */
import { expect, layer } from "@effect/vitest"
import { JwtVerifier, KeyStore } from "@warden/jwt"
import { TestIdentityProvider } from "@warden/testing"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import { runs } from "./runs.js"

/** The current time of the manual clock, in epoch milliseconds. */
let now = 1_700_000_000_000

const clock: Clock.Clock = {
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => now,
  currentTimeMillis: Effect.sync(() => now),
  unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
  sleep: () => Effect.never
}

const cooldown = 10_000
const maxStale = 60_000

interface Model {
  now: number
  published: Array<string>
  view: ReadonlySet<string>
  fetchedAt: number
  /** When the last on-demand fetch began. */
  lastAttempt: number
  fetches: number
  up: boolean
  /** The kid of each token signed so far, in order. */
  tokens: Array<string>
}

interface Real {
  readonly run: <A>(effect: Effect.Effect<A, never, Services>) => Promise<A>
  /** The tokens signed so far, in the order of `Model.tokens`. */
  readonly tokens: Array<string>
}

type Services = TestIdentityProvider.TestIdentityProvider | JwtVerifier.JwtVerifier | KeyStore.KeyStore

const fetch = (m: Model) => {
  m.fetches++
  if (m.up) {
    m.view = new Set(m.published)
    m.fetchedAt = m.now
  }
}
const fetchIfCool = (m: Model) => {
  if (m.now - m.lastAttempt >= cooldown) {
    m.lastAttempt = m.now
    fetch(m)
  }
}
const fresh = (m: Model) => m.now - m.fetchedAt <= maxStale

/** What the model says verifying a token of `kid` comes to, updating its fetch state as the store would. */
const verifyInModel = (m: Model, kid: string): string => {
  if (!fresh(m)) {
    fetchIfCool(m)
    if (!fresh(m)) return "keys_unavailable"
  }
  if (!m.view.has(kid)) {
    fetchIfCool(m)
    if (!m.view.has(kid)) return "unknown_key"
  }
  return "ok"
}

const reasonOf = <A>(exit: Exit.Exit<A, { readonly reason: string }>) =>
  Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error.reason : `defect: ${exit.cause._tag}`

/** After every command: the store holds the model's set and has fetched as often as the model says. */
const agree = (m: Model, r: Real) =>
  r.run(Effect.gen(function*() {
    const status = yield* (yield* KeyStore.KeyStore).status
    expect([[...status.ids].sort(), status.fetches]).toEqual([[...m.view].sort(), m.fetches])
  }))

const claims = { sub: "alice", tid: "acme" }

class Rotate implements FastCheck.AsyncCommand<Model, Real> {
  check = () => true
  async run(m: Model, r: Real) {
    const token = await r.run(Effect.gen(function*() {
      const provider = yield* TestIdentityProvider.TestIdentityProvider
      const kid = yield* provider.rotate
      return { kid, token: yield* provider.sign(claims, { lifetime: "12 hours" }) }
    }))
    m.published.push(token.kid)
    m.tokens.push(token.kid)
    r.tokens.push(token.token)
    await agree(m, r)
  }
  toString = () => "rotate"
}

class Retire implements FastCheck.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.published.length > 0
  async run(m: Model, r: Real) {
    const kid = m.published[this.index % m.published.length]!
    await r.run(Effect.flatMap(TestIdentityProvider.TestIdentityProvider, (p) => p.retire(kid)))
    m.published = m.published.filter((k) => k !== kid)
    await agree(m, r)
  }
  toString = () => `retire(#${this.index})`
}

class Outage implements FastCheck.AsyncCommand<Model, Real> {
  constructor(readonly down: boolean) {}
  check = () => true
  async run(m: Model, r: Real) {
    await r.run(Effect.flatMap(TestIdentityProvider.TestIdentityProvider, (p) => p.setJwksAvailable(!this.down)))
    m.up = !this.down
  }
  toString = () => this.down ? "jwks down" : "jwks up"
}

class Advance implements FastCheck.AsyncCommand<Model, Real> {
  constructor(readonly millis: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    now += this.millis
    m.now += this.millis
    await agree(m, r)
  }
  toString = () => `advance(${this.millis} ms)`
}

class Refresh implements FastCheck.AsyncCommand<Model, Real> {
  check = () => true
  async run(m: Model, r: Real) {
    const exit = await r.run(Effect.exit(Effect.flatMap(KeyStore.KeyStore, (k) => k.refresh)))
    expect(Exit.isSuccess(exit)).toBe(m.up)
    fetch(m)
    await agree(m, r)
  }
  toString = () => "refresh"
}

class Verify implements FastCheck.AsyncCommand<Model, Real> {
  constructor(readonly index: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const i = this.index % m.tokens.length
    const kid = m.tokens[i]!
    const exit = await r.run(Effect.exit(Effect.flatMap(JwtVerifier.JwtVerifier, (v) => v.verify(r.tokens[i]!))))
    const expected = verifyInModel(m, kid)
    expect(reasonOf(exit), `token #${i} of ${kid} at ${m.now} ms`).toBe(expected)
    await agree(m, r)
  }
  toString = () => `verify(#${this.index})`
}

const seconds = (s: number) => s * 1000

const commands = FastCheck.commands([
  FastCheck.constant(new Rotate()),
  FastCheck.nat().map((i) => new Retire(i)),
  FastCheck.boolean().map((down) => new Outage(down)),
  FastCheck.oneof(
    FastCheck.constantFrom(cooldown - 1, cooldown, maxStale, maxStale + 1, maxStale + cooldown),
    FastCheck.integer({ min: 0, max: seconds(130) })
  ).map((ms) => new Advance(ms)),
  FastCheck.constant(new Refresh()),
  FastCheck.nat().map((i) => new Verify(i)),
  FastCheck.nat().map((i) => new Verify(i))
], { maxCommands: 30, size: "medium" })

/**
 * One provider and verifier for the file, on the manual clock, brought to a
 * known state at the start of every run: a cooldown's time on, so no
 * on-demand fetch of an earlier run holds the budget; the JWKS up and
 * publishing one new key only; and an explicit refresh (which fetches
 * whatever the cooldown, and leaves it alone) so the store holds exactly that
 * key, fetched now. Tokens of earlier runs are never verified again.
 */
const System = Layer.scopedContext(
  Effect.withClock(
    Layer.build(
      TestIdentityProvider.layerVerifier({
        keyStore: { cooldown, maxStale, refreshInterval: "365 days", jitter: 0 }
      }).pipe(Layer.provideMerge(TestIdentityProvider.layer()))
    ),
    clock
  )
)

const start = Effect.gen(function*() {
  now += cooldown
  const provider = yield* TestIdentityProvider.TestIdentityProvider
  const keys = yield* KeyStore.KeyStore
  yield* provider.setJwksAvailable(true)
  const kid = yield* provider.rotate
  for (const old of yield* provider.published) if (old !== kid) yield* provider.retire(old)
  yield* Effect.orDie(keys.refresh)
  const token = yield* provider.sign(claims, { lifetime: "12 hours" })
  const model: Model = {
    now,
    published: [kid],
    view: new Set([kid]),
    fetchedAt: now,
    lastAttempt: now - cooldown,
    fetches: (yield* keys.status).fetches,
    up: true,
    tokens: [kid]
  }
  return { model, token }
})

layer(System)("invariant: key rotation", (it) => {
  it.effect.prop(
    "a token verifies exactly when its key is in the store's current set, or the stale window after failed fetches",
    [commands],
    ([cmds]) =>
      Effect.gen(function*() {
        const { model, token } = yield* start
        const runtime = yield* Effect.runtime<Services>()
        const run = <A>(effect: Effect.Effect<A, never, Services>) =>
          Runtime.runPromise(runtime)(Effect.withClock(effect, clock))
        yield* Effect.promise(() => FastCheck.asyncModelRun(() => ({ model, real: { run, tokens: [token] } }), cmds))
      }).pipe(Effect.withClock(clock)),
    runs()
  )
})
