/*
 * codegate-pch.h - the standard headers C++ programs start with, precompiled once
 * (build-pch.sh) and given to a compile as its first include when the program includes only
 * headers of this list (executors/cxxfast.h has the rules). One #include <name> per line: the
 * executor reads this list. <bits/stdc++.h> is not here: the cpp image precompiles it apart.
 */
#include <algorithm>
#include <array>
#include <bitset>
#include <cassert>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <queue>
#include <set>
#include <sstream>
#include <stack>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
