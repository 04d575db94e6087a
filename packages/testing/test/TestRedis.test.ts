/** TestRedis fails loudly, saying what to install, when there is no Redis: a test that needs it never skips. */
import { describe, expect, it } from "@effect/vitest"
import { TestRedis } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as net from "node:net"

/** Runs `self` with an environment variable set (or removed), restoring it after. */
const withEnv = <A, E, R>(name: string, value: string | undefined, self: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.env[name]
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
      return before
    }),
    () => self,
    (before) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env[name]
        else process.env[name] = before
      })
  )

const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("TestRedis", () => {
  it.scoped("without redis-server on the PATH, spawn fails with RedisMissing and says what to install", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(withEnv("PATH", "/nonexistent", TestRedis.spawn))
      expect(error._tag).toBe("@warden/testing/RedisMissing")
      expect(error.message).toContain("apt-get install redis-server")
    }))

  it.scoped("a WARDEN_REDIS_URL that nothing answers fails with RedisMissing, not a skip", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const error = yield* Effect.flip(withEnv("WARDEN_REDIS_URL", `redis://127.0.0.1:${port}`, TestRedis.shared))
      expect(error.message).toContain(`nothing answers PING on port ${port}`)
    }))

  it.scoped("a spawned server answers, stops and starts again on the same port", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis.spawn
      const port = Number(new URL(redis.url).port)
      const ping = Effect.promise(() =>
        new Promise<boolean>((resolve) => {
          const socket = net.connect(port, "127.0.0.1")
          socket.once("error", () => resolve(false))
          socket.once("connect", () => socket.write("PING\r\n"))
          socket.once("data", (d) => {
            socket.destroy()
            resolve(d.toString().startsWith("+PONG"))
          })
        })
      )
      expect(yield* ping).toBe(true)
      yield* redis.stop
      expect(yield* ping).toBe(false)
      yield* redis.start
      expect(yield* ping).toBe(true)
    }))
})
