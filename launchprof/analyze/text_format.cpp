#include "launchprof/analyze/text_format.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace launchprof {

std::string format_duration_ns(double ns) {
  static const char* const kUnits[] = {"ns", "us", "ms", "s"};
  double v = ns;
  int unit = 0;
  while (unit < 3 && std::fabs(v) >= 999.95) {
    v /= 1e3;
    ++unit;
  }
  char buf[48];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f ns", v);
  } else {
    double a = std::fabs(v);
    int digits = a < 9.9995 ? 3 : a < 99.995 ? 2 : a < 999.95 ? 1 : 0;
    std::snprintf(buf, sizeof(buf), "%.*f %s", digits, v, kUnits[unit]);
  }
  return buf;
}

std::string format_duration_or_dash(bool defined, double ns) { return defined ? format_duration_ns(ns) : "-"; }

std::string format_fixed_or_dash(bool defined, double v, int digits) {
  if (!defined) return "-";
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

namespace {

bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Drops "void " and the trailing parameter list, removes identifier:: qualifiers and "> >" spacing.
std::string strip_name(const std::string& name) {
  std::string s = name;
  if (s.rfind("void ", 0) == 0) s.erase(0, 5);
  if (!s.empty() && s.back() == ')') {
    int depth = 0;
    for (size_t i = s.size(); i-- > 0;) {
      if (s[i] == ')') ++depth;
      if (s[i] == '(' && --depth == 0) {
        if (i > 0) s.erase(i);
        break;
      }
    }
  }
  const std::string anon = "(anonymous namespace)::";
  for (size_t p; (p = s.find(anon)) != std::string::npos;) s.erase(p, anon.size());
  // Parameter lists nested in template arguments (a lambda's enclosing function, "{lambda(int)#1}") say little.
  std::string bare;
  bare.reserve(s.size());
  int paren = 0;
  for (char c : s) {
    if (c == '(') ++paren;
    if (paren == 0) bare += c;
    if (c == ')' && paren > 0) --paren;
  }
  s = paren == 0 ? bare : s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      size_t j = out.size();
      while (j > 0 && is_ident(out[j - 1])) --j;
      if (j < out.size()) {  // an identifier qualifier: drop it with the "::"
        out.erase(j);
        ++i;
        continue;
      }
    }
    if (s[i] == ' ' && i + 1 < s.size() && s[i + 1] == '>' && !out.empty() && out.back() == '>') continue;
    out += s[i];
  }
  return out;
}

std::string elide_middle(const std::string& s, size_t width) {
  if (s.size() <= width || width < 8) return s.size() <= width ? s : s.substr(0, width);
  size_t head = s.find('<');  // the function's name, if it leaves room for a tail
  if (head == std::string::npos || head > width * 2 / 3) head = width / 2;
  size_t tail = width - head - 3;
  return s.substr(0, head) + "..." + s.substr(s.size() - tail);
}

}  // namespace

std::string shorten_kernel_name(const std::string& name, size_t width) { return elide_middle(strip_name(name), width); }

std::vector<std::string> distinct_short_names(const std::vector<std::string>& names, size_t width) {
  std::vector<std::string> out(names.size());
  auto clashes = [&names, &out](const std::vector<size_t>& among) {
    std::map<std::string, std::set<std::string>> originals;
    for (size_t i = 0; i < names.size(); ++i) originals[out[i]].insert(names[i]);
    std::vector<size_t> clash;
    for (size_t i : among)
      if (originals[out[i]].size() > 1) clash.push_back(i);
    return clash;
  };
  std::vector<size_t> todo;
  for (size_t i = 0; i < names.size(); ++i) todo.push_back(i);
  // Widen only the names that collide with a different name, until the stripped names are shown whole.
  for (size_t w = width; !todo.empty(); w = w * 3 / 2) {
    bool whole = true;
    for (size_t i : todo) {
      out[i] = shorten_kernel_name(names[i], w);
      whole = whole && strip_name(names[i]).size() <= w;
    }
    todo = clashes(todo);
    if (whole) break;
  }
  // Names that differ only in what stripping removed (namespaces, parameters) keep their own text.
  for (size_t i : todo) out[i] = elide_middle(names[i], width);
  for (size_t i : clashes(todo)) out[i] = names[i];
  return out;
}

}  // namespace launchprof
