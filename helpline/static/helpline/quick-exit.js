// Quick exit: leave for a neutral site and replace this page in the history, so Back does not return.
const link = document.getElementById("quick-exit");

function leave(event) {
  if (event) event.preventDefault();
  const target = link.dataset.exitUrl;
  // Hide the page at once, before the next site starts loading.
  document.documentElement.style.visibility = "hidden";
  document.title = "";
  window.location.replace(target);
}

if (link) {
  link.addEventListener("click", leave);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) leave(event);
  });
}
