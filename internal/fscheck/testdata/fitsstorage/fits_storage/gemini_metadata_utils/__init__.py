from .telescope_instruments import *
from .progid_obsid_dl import *
from .datestimes import *
from .coords import *