// Validate glTF/GLB files with the Khronos glTF validator (npm package gltf-validator).
// Usage: node scripts/validate_gltf.mjs FILE...   (NODE_PATH or a node_modules above must hold gltf-validator)
// Prints one JSON report summary per file; exits 1 when any file has errors.
import { createRequire } from "module";
import { readFileSync } from "fs";

const require = createRequire(process.env.GLTF_VALIDATOR_DIR ? process.env.GLTF_VALIDATOR_DIR + "/" : import.meta.url);
const validator = require("gltf-validator");

let failed = false;
for (const file of process.argv.slice(2)) {
  const report = await validator.validateBytes(new Uint8Array(readFileSync(file)), { maxIssues: 50 });
  const { numErrors, numWarnings, numInfos, numHints, messages } = report.issues;
  console.log(JSON.stringify({ file, numErrors, numWarnings, numInfos, numHints, messages }));
  failed ||= numErrors > 0;
}
process.exit(failed ? 1 : 0);
