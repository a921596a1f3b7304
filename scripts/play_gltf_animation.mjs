// Play a glTF/GLB file's first animation in three.js (the engine of most browser glTF viewers)
// and print the first mesh's morph-target weights at the given times, as JSON.
// Usage: node scripts/play_gltf_animation.mjs FILE.glb '[0, 0.5, 1.25]'
//   (GLTF_VALIDATOR_DIR or a node_modules above must hold the npm package three)
// Node has no image decoder, so textures are not loaded (three.js says so once); geometry,
// morph targets and the animation are read exactly as a browser reads them.
import { createRequire } from "module";
import { readFileSync } from "fs";
import { dirname, join } from "path";
import { pathToFileURL } from "url";

globalThis.self = globalThis; // the loader's browser global
const base = process.env.GLTF_VALIDATOR_DIR ? process.env.GLTF_VALIDATOR_DIR + "/" : import.meta.url;
const root = dirname(dirname(createRequire(base).resolve("three"))); // node_modules/three (its main is build/three.cjs)
const THREE = await import(pathToFileURL(join(root, "build", "three.module.js")).href);
const { GLTFLoader } = await import(pathToFileURL(join(root, "examples", "jsm", "loaders", "GLTFLoader.js")).href);

const data = readFileSync(process.argv[2]);
const times = JSON.parse(process.argv[3]);
new GLTFLoader().parse(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), "", (gltf) => {
  let mesh = null;
  gltf.scene.traverse((node) => { if (!mesh && node.isMesh) mesh = node; });
  const clip = gltf.animations[0];
  const mixer = new THREE.AnimationMixer(gltf.scene);
  mixer.clipAction(clip).play();
  const weights = [];
  let now = 0;
  for (const t of times) {
    mixer.update(t - now);
    now = t;
    weights.push(Array.from(mesh.morphTargetInfluences));
  }
  console.log(JSON.stringify({ duration: clip.duration, vertices: mesh.geometry.attributes.position.count, weights }));
}, (error) => { console.error(String(error)); process.exit(1); });
