import { describe, expect, it } from "@effect/vitest"
import { SingleFlight } from "@warden/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

describe("SingleFlight.keyed", () => {
  it.scoped("concurrent runs of one key share one run; other keys run apart; a finished key runs again", () =>
    Effect.gen(function*() {
      const flights = SingleFlight.keyed<string, never>(yield* Effect.scope)
      const started: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const fetch = (key: string) =>
        Effect.flatMap(Effect.sync(() => started.push(key)), (n) => Effect.as(Deferred.await(gate), `${key}-${n}`))
      const fibers = yield* Effect.forEach(
        ["a", "a", "b", "a"],
        (key) => Effect.fork(flights.run(key, fetch(key))),
        { concurrency: "unbounded" }
      )
      yield* Effect.yieldNow()
      expect(started).toEqual(["a", "b"])
      yield* Deferred.succeed(gate, undefined)
      const answers = yield* Effect.forEach(fibers, Fiber.join)
      expect(answers).toEqual(["a-1", "a-1", "b-2", "a-1"])
      expect(yield* flights.run("a", fetch("a"))).toBe("a-3")
      expect(started).toEqual(["a", "b", "a"])
    }))
})
