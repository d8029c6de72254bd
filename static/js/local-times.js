/* Event times in the reader's own time zone, as their browser knows it.
   Every <time data-local> holds an event's start (datetime, UTC) and its end (data-end); data-shown-zones
   lists the zones the page already shows (the event's, and the member's own when set). When the browser's
   zone is none of those, a line "Your time (<zone>): ..." is added after the event's time. Without this
   script the page is complete: the times are there in the event's zone. */
(function () {
  "use strict";
  var zone;
  try {
    zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!zone) {
    return;
  }
  var format = new Intl.DateTimeFormat("en-US", {
    weekday: "long", year: "numeric", month: "long", day: "numeric",
    hour: "numeric", minute: "2-digit", timeZone: zone, timeZoneName: "short"
  });
  var elements = document.querySelectorAll("time[data-local]");
  Array.prototype.forEach.call(elements, function (element) {
    var shown = (element.getAttribute("data-shown-zones") || "").split(" ");
    if (shown.indexOf(zone) !== -1) {
      return;
    }
    var start = new Date(element.getAttribute("datetime"));
    var end = element.hasAttribute("data-end") ? new Date(element.getAttribute("data-end")) : null;
    if (isNaN(start.getTime()) || (end && isNaN(end.getTime()))) {
      return;
    }
    var text = end && format.formatRange ? format.formatRange(start, end) : format.format(start);
    var line = document.createElement("span");
    line.className = "local-time";
    line.textContent = "Your time (" + zone + "): " + text;
    var holder = element.parentNode;
    holder.parentNode.insertBefore(line, holder.nextSibling);
  });
}());
