/** A redis-server for the tests of this package: shared, or one of a test's own. */
import { RedisClient } from "@warden/redis"
import { TestRedis } from "@warden/testing"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Redis } from "ioredis"

/** A raw client, to look at what the layers wrote. */
export const raw = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(url, { lazyConnect: false })),
    (r) => Effect.sync(() => r.disconnect())
  )

export const clientLayer = (url: string, keyPrefix: string, commandTimeout: Duration.DurationInput = "300 millis") =>
  RedisClient.layer({ url, keyPrefix, commandTimeout, connectTimeout: "1 second" })

export const sleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/** Polls `check` every 50 ms, at most `attempts` times, until it holds. */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, attempts = 60) =>
  Effect.gen(function*() {
    for (let i = 0; i < attempts; i++) {
      if (yield* check) return true
      yield* sleep(50)
    }
    return false
  })

export { Layer, TestRedis }
