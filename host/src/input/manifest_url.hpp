// What a manifest's URL must be, and the one change made to it.
//
// A manifest URL is handed to libcurl as it is, so it is checked here, once,
// against what libcurl would do with it:
//  - http:// or https://, with a host (the plugins speak HTTP only, and
//    catching "ftp://" here beats a failure an hour into the job);
//  - no white space and no control character (0x00-0x20, 0x7f): libcurl
//    would send them, or stop at them;
//  - a well-formed authority: [user[:password]@]host[:port], the port all
//    digits. A password holding an unencoded '/', '?' or '#' cuts the
//    authority short ("http://u:pa/SECRET@host/f" has the host "u" and the
//    port "pa"): refused, since libcurl would send the rest of the password
//    in the clear as the path. Such URLs are shown with everything up to
//    the last '@' hidden (util::redacted_url()), here and everywhere.
//  - an internationalized host ("bücher.example") is converted to its ASCII
//    form ("xn--bcher-kva.example") with libidn2, with the flags curl uses
//    (IDNA2008, NFC, non-transitional). libcurl converts through the
//    process's locale, which a service's "C" locale cannot read, so the
//    host does it once for every plugin. A host libidn2 refuses is a
//    manifest error.
// Every URL a message echoes is redacted and cut to 200 characters.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dlhost {

// nullopt when `url` is acceptable; else the reason, naming "url", with the
// URL redacted and cut.
std::optional<std::string> url_problem(std::string_view url);

// `url` (accepted by url_problem) with its host in ASCII; *error set and
// nullopt when the host is not a valid internationalized domain name.
std::optional<std::string> ascii_host_url(const std::string &url, std::string *error);

// A URL as a message shows it: redacted, printable, at most 200 characters.
std::string shown_url(std::string_view url);

}  // namespace dlhost
