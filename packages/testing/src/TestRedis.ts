/**
 * A real Redis for tests. `shared` is the server named by `WARDEN_REDIS_URL`
 * when it is set (CI starts one), or a `redis-server` started for the test;
 * `spawn` always starts one of its own, which a test may stop and start
 * again to see what its stores do while Redis is away. A test that needs
 * Redis and finds none fails with `RedisMissing`, saying what to install:
 * it never skips.
 *
 * Tests that share a server keep apart by key prefix (`prefix()`), not by
 * flushing it.
 *
 * @example
 * ```ts
 * it.scoped("survives a restart", () =>
 *   Effect.gen(function*() {
 *     const redis = yield* TestRedis.spawn
 *     yield* redis.stop
 *     yield* redis.start
 *   }))
 * ```
 *
 * @since 0.3.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn as spawnProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import * as TestNet from "./TestNet.js"

/**
 * No Redis could be reached or started.
 *
 * @since 0.3.0
 * @category errors
 */
export class RedisMissing extends Data.TaggedError("@warden/testing/RedisMissing")<{ readonly message: string }> {}

/**
 * A Redis a test can use.
 *
 * @since 0.3.0
 * @category models
 */
export interface TestRedis {
  readonly url: string
  /** Stops the server (only for one `spawn` started). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port. */
  readonly start: Effect.Effect<void, RedisMissing>
}

/**
 * A key prefix of its own, to keep a test's keys apart on a shared server.
 *
 * @since 0.3.0
 * @category constructors
 */
export const prefix = (): string => `test:${randomBytes(6).toString("hex")}:`

/** Whether the server at `port` answers PING, trying for at most `attempts` × 50 ms, or until `giveUp()`. */
const answers = async (
  port: number,
  attempts: number,
  host = "127.0.0.1",
  giveUp: () => boolean = () => false
): Promise<boolean> => {
  for (let i = 0; i < attempts && !giveUp(); i++) {
    const pong = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host)
      const done = (ok: boolean) => {
        socket.destroy()
        resolve(ok)
      }
      socket.setTimeout(200, () => done(false))
      socket.once("error", () => done(false))
      socket.once("connect", () => socket.write("PING\r\n"))
      socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
    })
    if (pong) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return false
}

const missing = (why: string) =>
  new RedisMissing({
    message: `${why}. The tests need Redis: install redis-server (Debian: apt-get install redis-server) ` +
      "or set WARDEN_REDIS_URL to a server they may use"
  })

const startServer = (port: number): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawnProcess(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdio: "ignore" }
    )
    let failed = false
    child.once("error", (error) => {
      failed = true
      reject(missing(`redis-server could not be started (${error.message})`))
    })
    answers(port, 100, "127.0.0.1", () => failed || child.exitCode !== null).then((ok) => {
      if (ok) resolve(child)
      else {
        child.kill("SIGKILL")
        reject(missing(`redis-server did not answer on 127.0.0.1:${port}`))
      }
    }, reject)
  })

const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/**
 * A `redis-server` of the test's own on a free loopback port, stopped with
 * the scope.
 *
 * @since 0.3.0
 * @category constructors
 */
export const spawn: Effect.Effect<TestRedis, RedisMissing, Scope.Scope> = Effect.gen(function*() {
  const port = yield* TestNet.freePort
  let child: ChildProcess | undefined
  const start = Effect.tryPromise({
    try: async () => {
      if (child === undefined) child = await startServer(port)
    },
    catch: (e) => e instanceof RedisMissing ? e : missing(String(e))
  })
  const stop = Effect.promise(async () => {
    if (child !== undefined) await stopServer(child)
    child = undefined
  })
  yield* Effect.acquireRelease(start, () => stop)
  return { url: `redis://127.0.0.1:${port}`, start, stop }
})

/**
 * The server named by `WARDEN_REDIS_URL`, checked to answer, or else one of
 * the test's own (`spawn`). Its `stop` and `start` do nothing for a server
 * the test did not start.
 *
 * @since 0.3.0
 * @category constructors
 */
export const shared: Effect.Effect<TestRedis, RedisMissing, Scope.Scope> = Effect.suspend(() => {
  const url = process.env["WARDEN_REDIS_URL"]
  if (url === undefined || url === "") return spawn
  return Effect.gen(function*() {
    const parsed = new URL(url)
    const port = Number(parsed.port || "6379")
    const ok = yield* Effect.promise(() => answers(port, 20, parsed.hostname))
    if (!ok) return yield* missing(`WARDEN_REDIS_URL is set, but nothing answers PING on port ${port}`)
    return { url, start: Effect.void, stop: Effect.void }
  })
})
