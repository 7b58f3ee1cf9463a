// Every word the page shows comes from one of the two message files.
import en from './messages/en.json';
import zh from './messages/zh.json';

const MESSAGES = { en, zh };
const STORED = 'gridhub.lang';
let current = 'en';

export function languages() {
  return Object.keys(MESSAGES);
}

// The language chosen in this browser, else the city's first language GridHub has messages for
// (Chinese for the demo city), else the browser's.
export function pickLanguage(cityLanguages = []) {
  const stored = localStorage.getItem(STORED);
  if (stored && MESSAGES[stored]) return stored;
  const city = cityLanguages.find((l) => MESSAGES[l]);
  if (city) return city;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function setLanguage(lang, remember = false) {
  current = MESSAGES[lang] ? lang : 'en';
  if (remember) localStorage.setItem(STORED, current);
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

export function language() {
  return current;
}

export function t(key, vars = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// A code of the taxonomy or a level: its message when there is one, else the code itself
// (a city's own categories have no message).
export function label(prefix, code) {
  if (code === null || code === undefined) return '';
  const key = `${prefix}.${code}`;
  return MESSAGES[current][key] ?? MESSAGES.en[key] ?? code;
}
