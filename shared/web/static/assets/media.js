// Where the web app turns a media file name of a note (`<img src="cat.jpg">`, `[sound:cat.mp3]`)
// into a URL. The one place to change when the API serves a user's media: until then there is no
// URL and cards show the file name instead of the image, and a disabled play button.

/** URL of media file `filename` of the signed-in user's collection, or null when not served. */
export function mediaUrl(filename) {
  void filename;
  return null;
}
