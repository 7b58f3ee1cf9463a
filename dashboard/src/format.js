// Numbers as people read them; null (withheld or unknown) is a dash.
import { language } from './i18n.js';

const locale = () => (language() === 'zh' ? 'zh-CN' : 'en-US');

export function num(value) {
  return value === null || value === undefined ? '–' : Number(value).toLocaleString(locale());
}

export function pct(value, digits = 1) {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(digits)}%`;
}

export function signedPct(value) {
  if (value === null || value === undefined) return '–';
  const p = (value * 100).toFixed(1);
  return value > 0 ? `+${p}%` : `${p}%`;
}

export function hours(value) {
  return value === null || value === undefined ? '–' : Number(value).toFixed(1);
}

export function day(value) {
  return value ? String(value).slice(0, 10) : '–';
}

// The element helper every panel builds with: h('td', {class: 'n'}, text, child...).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
