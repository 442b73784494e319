// hide removes the elements matching any of selectors from the picture and
// the layout: an inline display:none !important on those present, which no
// stylesheet rule can beat, and a style rule for those added later. It
// answers how many it hid, or the first selector that is not valid CSS.
(selectors => {
  for (const sel of selectors) {
    try { document.querySelector(sel); } catch (e) { return {bad: sel}; }
  }
  const s = document.createElement("style");
  s.textContent = selectors.join(",\n") + " { display: none !important; }";
  (document.head || document.documentElement).appendChild(s);
  let n = 0;
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      el.style.setProperty("display", "none", "important");
      n++;
    }
  }
  return {hidden: n};
})
