/** The README's worked example is the example test, verbatim, so what it shows runs. */
import { expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

it("the README's worked example is test/Example.test.ts from its first import on", () => {
  const example = readFileSync(new URL("./Example.test.ts", import.meta.url), "utf8")
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  // From the first line that is an import statement (the file's comment mentions the word "import" too).
  const code = example.slice(example.search(/^import /m)).trimEnd()
  expect(readme).toContain(`\`\`\`ts\n${code}\n\`\`\``)
})
