#!/usr/bin/env node
// Sovereignty lint: scans the source tree for forbidden outside APIs (hosts and SDKs) and any SMS feature.
// Usage: node tools/lint/sovereignty-lint.mjs [root-dir]   (exit 0 clean, 1 findings, 2 usage/IO error)

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ALLOW_PATTERN,
  FORBIDDEN_HOST_GROUPS,
  GOOGLE_APIS_PATTERN,
  IMPORT_PATTERNS,
  MESSAGING_FEATURE_PATTERNS,
  forbiddenPackageRule,
  isAllowedGoogleApi,
  isTestClientPackage,
  isTestFile,
  packageNameOf,
} from './sovereignty-rules.mjs';

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', '.git', '.nx', 'coverage', 'tmp', '.sovren', 'out-tsc']);
const LOCKFILES = new Set(['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml']);
const BINARY_EXTENSIONS = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.gif',
  '.ico',
  '.webp',
  '.pdf',
  '.zip',
  '.gz',
  '.tgz',
  '.xz',
  '.bz2',
  '.7z',
  '.gguf',
  '.bin',
  '.onnx',
  '.pt',
  '.safetensors',
  '.so',
  '.a',
  '.o',
  '.node',
  '.wasm',
  '.wav',
  '.mp3',
  '.flac',
  '.ogg',
  '.db',
  '.sqlite',
  '.woff',
  '.woff2',
  '.ttf',
  '.otf',
  '.eot',
  '.exe',
  '.dll',
]);
// Larger files are generated artefacts or data, not source.
const MAX_FILE_BYTES = 4 * 1024 * 1024;

const HOST_PATTERNS = FORBIDDEN_HOST_GROUPS.map(({ rule, hosts }) => ({
  rule,
  pattern: new RegExp(String.raw`(?<![\w.-])(?:[a-z0-9-]+\.)*(?:${hosts.join('|')})(?![\w-])`, 'gi'),
}));
const GOOGLE_APIS_REGEX = new RegExp(String.raw`(?<![\w.-])${GOOGLE_APIS_PATTERN}`, 'gi');

/** Lists candidate files relative to root: git's tracked + untracked-not-ignored, or a walk outside git. */
export function listSourceFiles(root) {
  let fromGit;
  try {
    const output = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
    // git lists the whole work tree when root is inside one; only keep what is under root.
    fromGit = output.split('\0').filter(Boolean);
  } catch (error) {
    // Not a git work tree (or git missing): fall back to walking the directory.
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    if (process.env.SOVEREIGNTY_LINT_DEBUG)
      process.stderr.write(`sovereignty-lint: git ls-files unavailable (${reason}), walking ${root}\n`);
    fromGit = undefined;
  }
  const files = fromGit ?? walk(root, root);
  return files.filter((file) => !file.split('/').some((part) => SKIPPED_DIRS.has(part)));
}

function walk(root, dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) found.push(...walk(root, join(dir, entry.name)));
    } else if (entry.isFile()) {
      found.push(relative(root, join(dir, entry.name)).split('\\').join('/'));
    }
  }
  return found;
}

/** Scans one file's text; returns findings {line, column, rule, text}. */
export function scanText(relativePath, text) {
  const lines = text.split('\n');
  const findings = [];
  const name = basename(relativePath);

  if (LOCKFILES.has(name)) {
    lines.forEach((lineText, index) => {
      for (const packageName of lockfilePackages(lineText)) {
        const rule = forbiddenPackageRule(packageName);
        if (rule && isTestClientPackage(packageName) && isDevLockEntry(lines, index)) continue;
        if (rule)
          findings.push({
            line: index + 1,
            column: lineText.indexOf(packageName) + 1,
            rule: `${rule}/dependency`,
            text: packageName,
          });
      }
    });
    return findings;
  }

  const testFile = isTestFile(relativePath);
  // package.json: the dependency section the current line is in ("devDependencies", "dependencies"...).
  let section;
  lines.forEach((lineText, index) => {
    const sectionStart = /^\s*"(\w*[dD]ependencies)"\s*:\s*\{/.exec(lineText);
    if (sectionStart) section = sectionStart[1];
    else if (/^\s*\}/.test(lineText)) section = undefined;
    if (ALLOW_PATTERN.test(lineText)) return;
    const report = (column, rule, matched) => findings.push({ line: index + 1, column, rule, text: matched });

    for (const { rule, pattern } of HOST_PATTERNS) {
      for (const match of lineText.matchAll(pattern)) report(match.index + 1, rule, match[0]);
    }
    for (const match of lineText.matchAll(GOOGLE_APIS_REGEX)) {
      if (!isAllowedGoogleApi(match[0])) report(match.index + 1, 'forbidden-host/cloud-api', match[0]);
    }
    for (const pattern of IMPORT_PATTERNS) {
      for (const match of lineText.matchAll(pattern)) {
        const packageName = packageNameOf(match[1]);
        const rule = forbiddenPackageRule(packageName);
        if (rule && testFile && isTestClientPackage(packageName)) continue;
        if (rule) report(match.index + match[0].indexOf(match[1]) + 1, rule, match[1]);
      }
    }
    if (name === 'package.json') {
      // A dependency entry: "name": "version" (dependencies, devDependencies, optional..., peer...).
      for (const match of lineText.matchAll(/^\s*"((?:@[^"/]+\/)?[^"/]+)"\s*:\s*"[^"]*"/g)) {
        const rule = forbiddenPackageRule(match[1]);
        if (rule && section === 'devDependencies' && isTestClientPackage(match[1])) continue;
        if (rule) report(match.index + match[0].indexOf(match[1]) + 1, `${rule}/dependency`, match[1]);
      }
    }
    const seenMessagingSpots = new Set();
    for (const { rule, pattern } of MESSAGING_FEATURE_PATTERNS) {
      for (const match of lineText.matchAll(pattern)) {
        // Several SMS patterns can match the same spot; report it once.
        if (seenMessagingSpots.has(match.index)) continue;
        seenMessagingSpots.add(match.index);
        report(match.index + 1, rule, match[0]);
      }
    }
  });
  return findings;
}

// Whether the package-lock entry opened on line `index` is marked "dev": true (installed for development only).
function isDevLockEntry(lines, index) {
  const indent = /^\s*/.exec(lines[index])[0].length;
  for (let i = index + 1; i < lines.length; i += 1) {
    const lineIndent = /^\s*/.exec(lines[i])[0].length;
    if (lineIndent <= indent) return false;
    if (lineIndent === indent + 2 && /^\s*"dev"\s*:\s*true/.test(lines[i])) return true;
  }
  return false;
}

// Package names a lockfile line declares: package-lock keys ("node_modules/x"), yarn and pnpm entries.
function lockfilePackages(lineText) {
  const names = [];
  const npmKey = /"(?:[^"]*\/)?node_modules\/((?:@[^/"]+\/)?[^/"]+)"\s*:/.exec(lineText);
  if (npmKey) names.push(npmKey[1]);
  const yarnEntry = /^"?((?:@[^@/\s"]+\/)?[^@\s"/]+)@/.exec(lineText);
  if (yarnEntry) names.push(yarnEntry[1]);
  const pnpmEntry = /^\s+'?\/?((?:@[^@/\s']+\/)?[^@\s'/:]+)@[\d^~]/.exec(lineText);
  if (pnpmEntry) names.push(pnpmEntry[1]);
  return names;
}

function isBinary(buffer) {
  return buffer.subarray(0, 8000).includes(0);
}

/** Lints every source file under root; returns {filesScanned, findings[{file,line,column,rule,text}]}. */
export function lintTree(root) {
  const findings = [];
  let filesScanned = 0;
  for (const file of listSourceFiles(root)) {
    if (BINARY_EXTENSIONS.has(extname(file).toLowerCase())) continue;
    const absolute = join(root, file);
    let stats;
    try {
      stats = statSync(absolute);
    } catch (error) {
      // git lists deleted-but-tracked files; they have nothing to scan.
      if (error && error.code === 'ENOENT') continue;
      throw error;
    }
    if (!stats.isFile() || stats.size > MAX_FILE_BYTES) continue;
    const buffer = readFileSync(absolute);
    if (isBinary(buffer)) continue;
    filesScanned += 1;
    for (const finding of scanText(file, buffer.toString('utf8'))) findings.push({ file, ...finding });
  }
  return { filesScanned, findings };
}

function main(argv) {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(argv[0] ?? join(here, '..', '..'));
  let stats;
  try {
    stats = statSync(root);
  } catch (error) {
    process.stderr.write(
      `sovereignty-lint: cannot read root directory ${root}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 2;
  }
  if (!stats.isDirectory()) {
    process.stderr.write(`sovereignty-lint: ${root} is not a directory (usage: sovereignty-lint.mjs [root-dir])\n`);
    return 2;
  }
  const { filesScanned, findings } = lintTree(root);
  for (const { file, line, column, rule, text } of findings) {
    process.stdout.write(`${file}:${line}:${column}  ${rule}  ${text}\n`);
  }
  if (findings.length > 0) {
    const files = new Set(findings.map((finding) => finding.file)).size;
    process.stderr.write(
      `sovereignty-lint: ${findings.length} finding(s) in ${files} file(s) of ${filesScanned} scanned. ` +
        'Remove the forbidden use, or mark a deliberate exception with `sovereignty-lint-allow: <reason>` on the same line.\n',
    );
    return 1;
  }
  process.stdout.write(
    `sovereignty-lint: ${filesScanned} files scanned under ${root}, no forbidden hosts, SDKs or SMS features.\n`,
  );
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`sovereignty-lint: failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 2;
  }
}
