"""Runnable examples with ground truth.

* :mod:`asegraph.examples.li_fcc` — the thesis' toy system (Li hopping between
  the tetrahedral and octahedral sites of FCC S), its ASE MD generator, the
  geometric ground truth and a shipped trajectory (``data/li_fcc_s.{pdb,dcd}``).
* :mod:`asegraph.examples.compare_local_global` — GDyNet vs the geometric MSM vs
  a global VAMPnet on that trajectory (thesis ch. 4.3).
"""
