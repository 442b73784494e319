// settle waits, within maxWait ms, for what makes a picture change shortly
// after load: web fonts still loading and CSS animations and transitions
// that will end. With disable, animations and transitions jump to their
// end state instead. Infinite animations are never waited for; disable
// stops them at the start of their last-rendered iteration. Resolves to
// what it saw, for the logs.
(async ({disable, maxWait}) => {
  const deadline = performance.now() + maxWait;
  const left = () => Math.max(0, deadline - performance.now());
  const within = p => Promise.race([p, new Promise(r => setTimeout(r, left()))]);
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const all = () => (document.getAnimations ? document.getAnimations() : []);
  const finite = a => {
    try { return isFinite(a.effect.getComputedTiming().endTime); } catch (e) { return false; }
  };
  let fonts = "none";
  if (document.fonts && document.fonts.status === "loading") {
    fonts = "loading";
    await within(document.fonts.ready);
    fonts = document.fonts.status;
  }
  let animations = 0;
  if (disable) {
    // Later transitions and animations end as soon as they start.
    const s = document.createElement("style");
    s.textContent = "*,*::before,*::after{transition-duration:0s!important;transition-delay:0s!important;" +
      "animation-duration:0s!important;animation-delay:0s!important;animation-iteration-count:1!important}";
    (document.head || document.documentElement).appendChild(s);
    for (const a of all()) {
      animations++;
      try { if (finite(a)) a.finish(); else { a.currentTime = 0; a.pause(); } } catch (e) {}
    }
  } else {
    // Animations that end may start others (a fade after a slide): wait
    // for rounds of them while the time lasts.
    for (let round = 0; round < 10 && left() > 0; round++) {
      const running = all().filter(a => a.playState === "running" && finite(a));
      if (running.length === 0) break;
      animations += running.length;
      await within(Promise.all(running.map(a => a.finished.catch(() => null))));
    }
  }
  // Let what changed reach the screen; a page where nothing did needs no
  // wait, the capture paints a fresh frame anyway.
  if (fonts !== "none" || animations > 0) await frame();
  return {fonts, animations, timedOut: left() === 0};
})
