/**
 * One run of an effect at a time: callers arriving while a run is under way
 * wait for its result instead of starting another. The run is forked into a
 * scope (the owning layer's), so an interrupted caller does not cancel the
 * run that others are waiting for; closing that scope ends the run and
 * releases its waiters. Shared by the key store's JWKS refetch, client
 * credentials, refresh tokens, introspection and token exchange.
 *
 * @since 0.2.0
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A shared run. */
export interface SingleFlight<A, E> {
  /** Runs the effect, or joins the run under way. */
  readonly run: Effect.Effect<A, E>
  /** Whether a run is under way. */
  readonly busy: () => boolean
}

/** A single-flight of `effect`, whose runs live in `scope`. */
export const make = <A, E>(effect: Effect.Effect<A, E>, scope: Scope.Scope): SingleFlight<A, E> => {
  let inflight: Deferred.Deferred<A, E> | undefined
  const run: Effect.Effect<A, E> = Effect.withFiberRuntime((fiber) => {
    if (inflight !== undefined) return Deferred.await(inflight)
    const done = Deferred.unsafeMake<A, E>(fiber.id())
    inflight = done
    // onExit also runs when the scope closes mid-run, so waiters are released (interrupted), never left hanging.
    const settle = Effect.onExit(effect, (exit) =>
      Effect.suspend(() => {
        inflight = undefined
        return Deferred.done(done, exit)
      }))
    return Effect.zipRight(Effect.forkIn(settle, scope), Deferred.await(done))
  })
  return { run, busy: () => inflight !== undefined }
}

/**
 * Single-flights by key: `run(key, effect)` runs `effect`, or joins the run
 * already under way for `key`; the key is forgotten when its run ends. For
 * answers fetched per token (introspection, token exchange).
 *
 * @since 0.3.0
 */
export const keyed = <A, E>(
  scope: Scope.Scope
): { readonly run: (key: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E> } => {
  const flights = new Map<string, SingleFlight<A, E>>()
  return {
    run: (key, effect) =>
      Effect.suspend(() => {
        let flight = flights.get(key)
        if (flight === undefined) {
          flight = make(Effect.ensuring(effect, Effect.sync(() => flights.delete(key))), scope)
          flights.set(key, flight)
        }
        return flight.run
      })
  }
}
