/* Years and pooled periods: a year is a number (2023), a period its label ("2021-2023"). */

export const yearKey = (v) => (v === null || v === undefined || v === ""
  ? null : /^\d+$/.test(String(v)) ? Number(v) : String(v));

const span = (y) => {
  const m = /^(\d+)-(\d+)$/.exec(String(y));
  return m ? [Number(m[1]), Number(m[2])] : [Number(y), Number(y)];
};

/** The years (or periods) that compare with y like with like: a year with a year, a period with
    a period of the same length (the values API's compare= rule), oldest first. */
export function comparable(years, y) {
  if (y === null || y === undefined) return [];
  const [a, b] = span(y);
  return years.filter((x) => {
    const [c, d] = span(x);
    return String(x) !== String(y) && d - c === b - a;
  }).sort((x, z) => span(x)[0] - span(z)[0]);
}

/** The year shown and the one compared with: by default the nearest earlier comparable one;
    from the earliest year, the latest comparable year is shown instead. */
export function comparison(years, y, c) {
  const others = comparable(years, y);
  if (c !== null && c !== undefined && others.some((x) => String(x) === String(c))) return { y, c };
  const earlier = others.filter((x) => span(x)[0] < span(y)[0]);
  if (earlier.length) return { y, c: earlier.at(-1) };
  if (others.length) return { y: others.at(-1), c: y };
  return { y, c: null };
}
