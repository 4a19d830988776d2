// Shared by the manifest tests: where things are, the npm packages pinned in
// manifests/package.json, and a bundler that builds an extension the way the Shopify CLI does.
import {existsSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const manifestsDir = join(repoRoot, 'manifests');
export const extensionsDir = join(manifestsDir, 'extensions');

if (!existsSync(join(manifestsDir, 'node_modules'))) {
  throw new Error(`${manifestsDir}/node_modules is missing: run \`npm ci\` there (scripts/test.sh does)`);
}

// The tests live outside manifests/, so packages resolve from manifests/package.json.
export const requireFromManifests = createRequire(join(manifestsDir, 'package.json'));
export const esbuild = requireFromManifests('esbuild');
export const {parse: parseToml} = await import(
  pathToFileURL(requireFromManifests.resolve('smol-toml')).href
);

export function readToml(path) {
  return parseToml(readFileSync(path, 'utf8'));
}

// The esbuild entry the Shopify CLI generates for an extension (packages/app, the
// checkout_post_purchase and ui_extension specifications): a post-purchase extension is its
// src/index.* imported for its side effects (it calls shopify.extend itself); a ui_extension
// on API 2025-10 or later (Remote DOM) default-exports one function per target, which the CLI
// registers with shopify.extend.
export function cliEntry(extensionDir) {
  const config = readToml(join(extensionDir, 'shopify.extension.toml'));
  const [extension] = config.extensions;
  if (extension.type === 'checkout_post_purchase') {
    const entry = ['index.ts', 'index.tsx', 'index.js', 'index.jsx'].find((name) =>
      existsSync(join(extensionDir, 'src', name)),
    );
    if (!entry) throw new Error(`${extensionDir}: no src/index.{ts,tsx,js,jsx}`);
    return `import './src/${entry}';`;
  }
  if (extension.type === 'ui_extension') {
    if (!(config.api_version >= '2025-10')) {
      throw new Error(`${extensionDir}: only Remote DOM extensions (api_version >= 2025-10) are built here`);
    }
    return extension.targeting
      .map(
        ({target, module}, i) =>
          `import Target_${i} from '${module}';shopify.extend('${target}', (...args) => Target_${i}(...args));`,
      )
      .join('\n');
  }
  throw new Error(`${extensionDir}: unexpected extension type ${extension.type}`);
}

// Bundles an extension with the options the CLI's bundleExtension uses for a production build:
// one minified browser script (esbuild's default format for the browser, an IIFE), ES2015
// target, automatic JSX (the import source comes from the extension's tsconfig.json), .js files
// may hold JSX, no legal comments, process.env.NODE_ENV = "production" and process.env.<NAME>
// for each variable in `env`. Returns the bundle's text.
export async function bundleExtension(extensionDir, {env = {}} = {}) {
  const define = {'process.env.NODE_ENV': JSON.stringify('production')};
  for (const [key, value] of Object.entries(env)) define[`process.env.${key}`] = JSON.stringify(value);
  const result = await esbuild.build({
    stdin: {contents: cliEntry(extensionDir), resolveDir: extensionDir, loader: 'tsx'},
    bundle: true,
    write: false,
    minify: true,
    target: 'es6',
    jsx: 'automatic',
    loader: {'.esnext': 'ts', '.js': 'jsx'},
    legalComments: 'none',
    resolveExtensions: ['.tsx', '.ts', '.js', '.json', '.esnext', '.mjs', '.ejs'],
    define,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

// The app's binary, built by CMake (ctest passes its path; by hand: AFTERGLOW_BINARY=... node --test).
export function afterglowBinary() {
  const candidates = [process.env.AFTERGLOW_BINARY, join(repoRoot, 'build', 'afterglow')].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`afterglow binary not found (tried ${candidates.join(', ')}); set AFTERGLOW_BINARY`);
  return found;
}
