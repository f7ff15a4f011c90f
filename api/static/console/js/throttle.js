// Run an async job at most once per interval, never two at once, and always once more after
// the last request: a burst of 1,000 live messages costs a handful of API calls, and the last
// state is always fetched.

export function throttled(job, interval) {
  const minimum = typeof interval === "function" ? interval : () => interval;
  let timer = null;
  let running = false;
  let again = false;
  let lastStart = 0;
  let stopped = false;

  async function run() {
    timer = null;
    running = true;
    lastStart = Date.now();
    try {
      await job();
    } catch (error) {
      console.error(error);
    } finally {
      running = false;
      if (again && !stopped) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (timer !== null) return;
    const wait = Math.max(0, lastStart + minimum() - Date.now());
    timer = setTimeout(run, wait);
  }

  schedule.stop = () => {
    stopped = true;
    clearTimeout(timer);
    timer = null;
  };
  return schedule;
}
