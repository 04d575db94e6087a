/** `npm start`: runs the scenario and prints it. */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { scenario } from "./scenario.js"

const colour = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined
const paint = (code: string) => (text: string) => colour ? `\u001b[${code}m${text}\u001b[0m` : text
const bold = paint("1")
const green = paint("32")
const red = paint("31")
const dim = paint("2")

const program = Effect.gen(function*() {
  const result = yield* scenario
  yield* Console.log(bold("Warden shop example: an inventory service protected by Warden"))
  yield* Console.log(dim(`identity publishing its keys at ${result.identity}/jwks`))
  yield* Console.log(dim(`inventory listening on ${result.url} (Effect RPC over HTTP, verifying every JWT)`))
  yield* Console.log("")
  let n = 1
  for (const step of result.steps) {
    const mark = step.outcome === "allowed" ? green("ALLOWED") : red("REFUSED")
    yield* Console.log(`${bold(`${n++}. ${step.title}`)}  [caller ${step.caller}]`)
    yield* Console.log(`   ${mark}  ${step.detail}`)
    yield* Console.log(dim(`   HTTP equivalent: ${step.http}`))
  }
  yield* Console.log("")
  yield* Console.log(
    `acme stock untouched by globex's call: ${result.acmeUntouchedByGlobex ? "yes" : "NO"}; ` +
      `globex anvils ${result.globexBefore} -> ${result.globexAfter}`
  )
  yield* Console.log("")
  yield* Console.log(bold("Audit log for tenant acme"))
  for (const event of result.audit) {
    yield* Console.log(
      `   ${event.time}  ${event.subject.padEnd(6)} ${event.procedure.padEnd(8)} ${
        event.decision.padEnd(8)
      } ${event.reason}`
    )
  }
})

program.pipe(Logger.withMinimumLogLevel(LogLevel.Warning), NodeRuntime.runMain)
