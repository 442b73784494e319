// The page-side half of the full-page scroll pass. Evaluating this file
// installs, once per document, an object with the pass's steps under a
// symbol no page uses, and returns it.
(() => {
  const key = Symbol.for("pageshot.fullpage");
  if (window[key]) return window[key];
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const root = () => document.scrollingElement || document.documentElement;

  // The main scroller: the document, unless the document does not scroll
  // and one element scrolls most of the viewport (an app shell).
  function findScroller() {
    const doc = root();
    if (doc.scrollHeight > innerHeight + 1) return null;
    let best = null, bestArea = innerWidth * innerHeight * 0.3;
    for (const el of document.querySelectorAll("body *")) {
      if (el.scrollHeight <= el.clientHeight + 1) continue;
      const oy = getComputedStyle(el).overflowY;
      if (oy !== "auto" && oy !== "scroll" && oy !== "overlay") continue;
      const r = el.getBoundingClientRect();
      const area = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0)) *
        Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
      if (area > bestArea) { best = el; bestArea = area; }
    }
    return best;
  }

  // lazyMarks tells whether the page shows signs of loading content as it
  // is read: native lazy loading, or images and frames whose address waits
  // in a data- attribute (data-src of lazysizes and lozad, data-original of
  // jQuery Lazy Load, those of most IntersectionObserver loaders).
  function lazyMarks() {
    if (document.querySelector("img[loading=lazy], iframe[loading=lazy], .lazyload, .lazy, [data-bg]")) return true;
    for (const el of document.querySelectorAll("img, source, iframe, video")) {
      for (const a of el.attributes) {
        if (a.name.startsWith("data-") && /src|lazy|original/.test(a.name)) return true;
      }
    }
    return false;
  }

  let scroller = null;
  const api = {
    // detect finds the main scroller; it answers the height to scroll
    // through and the length of one step.
    detect() {
      scroller = findScroller();
      const el = scroller || root();
      return {height: el.scrollHeight, step: Math.max(100, (scroller ? scroller.clientHeight : innerHeight)), inner: !!scroller, lazy: lazyMarks()};
    },
    // step scrolls to y, lets two frames pass (scroll handlers and
    // intersection observers run), and answers the height now, which
    // grows on pages that load more as they are read.
    async step(y) {
      if (scroller) scroller.scrollTop = y; else scrollTo(0, y);
      await frames();
      return (scroller || root()).scrollHeight;
    },
    // pending counts images and iframes in or near the viewport that are
    // still loading.
    pending() {
      const margin = innerHeight;
      const near = el => {
        const r = el.getBoundingClientRect();
        return r.bottom >= -margin && r.top <= innerHeight + margin && r.width > 0 && r.height > 0;
      };
      let n = 0;
      for (const img of document.images) {
        if (!img.complete && near(img)) n++;
      }
      for (const f of document.querySelectorAll("iframe")) {
        try {
          if (near(f) && f.contentDocument && f.contentDocument.readyState !== "complete") n++;
        } catch (e) { /* another origin: its requests are counted instead */ }
      }
      return n;
    },
    // finish scrolls back to the top and lays the page out whole: sections
    // with content-visibility:auto render, and an app shell's scroller
    // gives its full height to the document.
    async finish() {
      api.reveal();
      if (scroller) {
        scroller.scrollTop = 0;
        const s = document.createElement("style");
        s.textContent = "html,body{height:auto!important;min-height:0!important;max-height:none!important;overflow:visible!important}";
        document.head.appendChild(s);
        for (let el = scroller; el && el !== document.documentElement; el = el.parentElement) {
          for (const [p, v] of [["height", "auto"], ["max-height", "none"], ["overflow", "visible"], ["flex", "none"]]) {
            el.style.setProperty(p, v, "important");
          }
        }
      }
      scrollTo(0, 0);
      await frames();
      return root().scrollHeight;
    },
    // reveal renders what content-visibility:auto skips off screen.
    reveal() {
      if (document.getElementById("pageshot-reveal")) return;
      const s = document.createElement("style");
      s.id = "pageshot-reveal";
      s.textContent = "*{content-visibility:visible!important}";
      (document.head || document.documentElement).appendChild(s);
    },
  };
  Object.defineProperty(window, key, {value: api});
  return api;
})()
