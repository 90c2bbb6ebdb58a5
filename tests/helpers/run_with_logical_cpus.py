"""Runs a script's main with the CPU split into N logical devices (for distribution tests).

Usage: python tests/helpers/run_with_logical_cpus.py N SCRIPT.py --flag=value ...
"""

import os
import runpy
import sys

import tensorflow as tf

count = int(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
sys.argv = sys.argv[2:]
# As `python SCRIPT.py` does: the script's folder first on the path (for its siblings).
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name="__main__")
