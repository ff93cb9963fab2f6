#include "CFaultlineLinux.h"
