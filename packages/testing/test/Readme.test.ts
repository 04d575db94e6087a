/** The README's worked example is the example test, verbatim, so what it shows runs. */
import { expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

it("the README's worked example is test/Example.test.ts from its first import on", () => {
  const example = readFileSync(new URL("./Example.test.ts", import.meta.url), "utf8")
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  const code = example.slice(example.indexOf("import ")).trimEnd()
  expect(readme).toContain(`\`\`\`ts\n${code}\n\`\`\``)
})
