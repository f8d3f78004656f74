// SPDX-License-Identifier: MIT
// axe-core (npm, devDependency) run inside a page: names, roles, contrast and
// the rest of its WCAG 2.x A/AA rules. Injected through the DevTools protocol
// (page.evaluate), so the pages' CSP (no inline script) needs no exception.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe on the page (or on `include`, a CSS selector) and returns the
 * violations as short strings: "rule: target — summary".
 * @param {import('playwright-core').Page} page
 * @param {{include?: string, rules?: Record<string, {enabled: boolean}>}} [opts]
 */
export async function axeViolations(page, opts = {}) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async ({ include, rules }) => {
    const r = await window.axe.run(include ? { include: [include] } : document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      rules: rules || {},
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      nodes: v.nodes.map((n) => `${n.target.join(' ')} — ${(n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 200)}`),
    }));
  }, opts);
  return results.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n}`));
}

/** WCAG contrast ratio of two CSS colours "rgb(r, g, b)". */
export function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
